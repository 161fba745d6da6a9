"""Schemathesis against the app in-process (WSGI), from the app's own /openapi.json, with every check.

Two phases. Examples: positive and negative examples for every operation, each answer held to the document
(status, content type, headers, body), no 5xx, no request against the schema accepted, no valid one
refused, the API key enforced where the document says so. Stateful: sequences that follow the document's
links (an accepted job's `id` into GET, cancel and DELETE), so a job's life (read, canceled, deleted,
then gone) is held to the document too. Requests never sleep here (`Waiter.wait` answers at once; a
stand-in worker answers POST /v1/embeddings): waiting itself is tested in test_waiting.py.

Two values a schema cannot state are made real before a positive request is sent (`make_real`): an
`Idempotency-Key` is derived from the generated key and the body (the same key with another body is a
documented 422, which a generator of independent examples would hit by chance), and `after` is a cursor
this API gave (the pattern states its alphabet; what it encodes is opaque). And the deployment has every
catalog model prepared: a model not prepared here is refused with a documented 422 (test_prepared_models.py),
a state of the deployment that no schema states, like a full backlog.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks

from db import Job, Status
from web import create_app
from web.resources.jobs import encode_cursor
from web.waiting import Waiter

KEY = "fuzz-key-7f3a9c"
AUTH = {"Authorization": f"Bearer {KEY}"}
# Tight limits, so that generated requests cross every boundary both ways (the document states them).
TIGHT = {"max_inputs": 3, "max_input_chars": 12, "max_body_bytes": 4096, "max_json_depth": 3, "max_backlog": 60}
SCALE = float(os.environ.get("TEST_FUZZ_SCALE", "1"))  # more examples for a longer hunt: TEST_FUZZ_SCALE=10
HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]

load_all_checks()

RUNS = [
    # (id, config changes, examples per operation and mode)
    ("with API keys and tight limits", {"api_keys": (KEY,), **TIGHT}, 120),
    ("open with the default limits", {}, 25),
]


@pytest.fixture(autouse=True)
def every_model_prepared(catalog, record_prepared):
    for spec in catalog:
        record_prepared(spec)


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    monkeypatch.setattr(Waiter, "wait", lambda self, job, seconds, owner="": (job, False))
    monkeypatch.setattr(Waiter, "wait_holding", lambda self, job, seconds: instant_embeddings(job))


def instant_embeddings(job: Job) -> Job:
    """POST /v1/embeddings waits for its job in the call: a stand-in worker answers it at once."""
    claimed = Job.claim(job.id)
    if claimed is not None:  # not a replay of a finished job
        claimed.finish(
            Status.SUCCEEDED, output=[{"embedding": [0.5], "tokens": 3, "truncated": False}] * len(job.inputs)
        )
    return Job.get_by_id(job.id)


def contract(app):
    """The app's document, with every check on; a refusal by size (413) counts as a refusal, and a job
    that is gone (410) is a valid request answered as documented."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)  # we send the key; ignored_auth probes without
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "410"]
    return schema


def make_real(case) -> None:
    """A positive case's `Idempotency-Key` and `after` as a client would really send them (see above)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    key = (case.headers or {}).get("Idempotency-Key")
    if key is not None:
        digest = hashlib.sha256(json.dumps([key, case.body], sort_keys=True, default=str).encode()).hexdigest()
        case.headers["Idempotency-Key"] = digest
    if (case.query or {}).get("after"):
        newest = Job.select().order_by(Job.created_at.desc(), Job.id.desc()).first()
        case.query["after"] = encode_cursor(newest) if newest is not None else ""


@pytest.mark.parametrize(("changes", "examples"), [run[1:] for run in RUNS], ids=[run[0] for run in RUNS])
def test_every_generated_request_is_answered_as_the_document_says(
    config, database, sender_stub, catalog, changes, examples
):
    schema = contract(create_app(replace(config, **changes), sender=sender_stub, catalog=catalog))
    sent: Counter[str] = Counter()
    count = round(examples * SCALE)
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = (
            [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if takes_input(operation) else [GenerationMode.POSITIVE]
        )
        for mode in modes:
            examples_of(operation.as_strategy(generation_mode=mode), count, sent)
    print(f"\nschemathesis: {sum(sent.values())} examples: {dict(sent)}")
    documented = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item}
    assert set(sent) == documented - {"GET /openapi.json"}  # every operation but the one schemathesis read


def test_a_job_followed_through_the_documents_links_is_answered_as_documented(config, database, sender_stub, catalog):
    schema = contract(create_app(replace(config, api_keys=(KEY,), **TIGHT), sender=sender_stub, catalog=catalog))
    answered: Counter[tuple[str, int]] = Counter()

    class Machine(schema.as_state_machine()):
        def before_call(self, case):
            case.headers = {**(case.headers or {}), **AUTH}  # the caller's own key, as a client sends it
            case._has_explicit_auth = True  # so ignored_auth probes without it rather than take it as generated
            make_real(case)

        def after_call(self, response, case):
            answered[case.operation.label, response.status_code] += 1

    Machine.run(
        settings=settings(
            max_examples=round(25 * SCALE),
            stateful_step_count=6,
            deadline=None,
            derandomize=SCALE == 1,
            database=None,
            suppress_health_check=HEALTH,
        )
    )
    print(f"\nstateful: {dict(answered)}")
    assert answered["POST /inference", 202]
    assert answered["GET /inference/{job_id}", 200] or answered["POST /inference/{job_id}/cancel", 200]
    assert answered["DELETE /inference/{job_id}", 204]


def takes_input(operation) -> bool:
    """Whether the operation takes anything that could be wrong (else no negative example exists)."""
    return any(len(part) for part in (operation.path_parameters, operation.query, operation.headers, operation.body))


def examples_of(strategy, examples: int, sent: Counter[str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=SCALE == 1,  # the default run is the same on every machine: CI is reproducible
        database=None,
        suppress_health_check=HEALTH,
    )
    def run(case):
        make_real(case)
        case.call_and_validate(headers=AUTH)
        sent[case.operation.label] += 1

    run()
