"""Schemathesis against the app in-process (WSGI), from the app's own /openapi.json.

Positive and negative examples for every operation: no 5xx ever, no request that violates the schema
accepted (`negative_data_rejection`), every response as documented (status, content type, headers, body),
and the API key enforced where the document says so (`ignored_auth` probes without a key and with a bad one).
Jobs the fuzzing created are then read back and canceled by id, so 200 and 409 are exercised too. Requests
never sleep here (`Waiter.wait` answers at once; a stand-in worker answers POST /v1/embeddings): waiting
itself is tested in test_waiting.py.

Examples come from each operation's Hypothesis strategy (`APIOperation.as_strategy`) under our own `@given`:
schemathesis' fixture loader (`schemathesis.pytest.from_fixture`) breaks on pytest 9.2, which removed the
private `Function._nodeid` it sets, and this way the examples are counted in the test that runs them.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks

from db import Job, Status
from web import create_app
from web.waiting import Waiter

KEY = "fuzz-key-7f3a9c"
AUTH = {"Authorization": f"Bearer {KEY}"}
# Tight limits, so that generated requests cross every boundary both ways (the document states them).
TIGHT = {"max_inputs": 3, "max_input_chars": 12, "max_body_bytes": 4096, "max_json_depth": 3, "max_backlog": 60}
SCALE = float(os.environ.get("TEST_FUZZ_SCALE", "1"))  # more examples for a longer hunt: TEST_FUZZ_SCALE=10

load_all_checks()
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.specs.openapi.checks.negative_data_rejection,
    schemathesis.specs.openapi.checks.status_code_conformance,
    schemathesis.specs.openapi.checks.content_type_conformance,
    schemathesis.specs.openapi.checks.response_headers_conformance,
    schemathesis.specs.openapi.checks.response_schema_conformance,
    schemathesis.specs.openapi.checks.ignored_auth,
]

RUNS = [
    # (id, config changes, examples per operation and mode, minimum examples in all)
    ("with API keys and tight limits", {"api_keys": (KEY,), **TIGHT}, 200, 500),
    ("open with the default limits", {}, 30, 100),
]


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    monkeypatch.setattr(Waiter, "wait", lambda self, job, seconds: (job, False))
    monkeypatch.setattr(Waiter, "wait_holding", lambda self, job, seconds: instant_embeddings(job))


def instant_embeddings(job: Job) -> Job:
    """POST /v1/embeddings waits for its job in the call: a stand-in worker answers it at once."""
    claimed = Job.claim(job.id)
    if claimed is not None:  # not a replay of a finished job
        claimed.finish(
            Status.SUCCEEDED, output=[{"embedding": [0.5], "tokens": 3, "truncated": False}] * len(job.inputs)
        )
    return Job.get_by_id(job.id)


@pytest.mark.parametrize(("changes", "examples", "minimum"), [run[1:] for run in RUNS], ids=[run[0] for run in RUNS])
def test_no_generated_request_gets_a_5xx_or_is_accepted_against_the_schema(
    config, database, sender_stub, catalog, changes, examples, minimum
):
    app = create_app(replace(config, **changes), sender=sender_stub, catalog=catalog)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)  # we send the key; ignored_auth probes without
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]  # over the body limit is a refusal too
    sent: Counter[str] = Counter()
    created: list[str] = []  # ids of the jobs POST /inference accepted
    count = round(examples * SCALE)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (
            [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if has_inputs(operation) else [GenerationMode.POSITIVE]
        ):
            fuzz(operation.as_strategy(generation_mode=mode), f"{operation.label} ({mode.value})", count, sent, created)
        if "job_id" in operation.path and created:
            known = st.sampled_from(created).flatmap(
                lambda job_id, op=operation: op.as_strategy(path_parameters={"job_id": job_id})
            )
            fuzz(known, f"{operation.label} (known ids)", count // 2, sent, created)
    print(f"\nschemathesis: {sum(sent.values())} examples: {dict(sent)}")
    assert sum(sent.values()) >= minimum, dict(sent)
    assert sent["GET /inference/{job_id} (known ids)"] and sent["POST /inference/{job_id}/cancel (known ids)"]


def has_inputs(operation) -> bool:
    """Whether the operation takes anything that could be wrong (else no negative example exists)."""
    return any(len(part) for part in (operation.path_parameters, operation.query, operation.headers, operation.body))


def fuzz(strategy, label: str, examples: int, sent: Counter[str], created: list[str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=SCALE == 1,  # the default run is the same on every machine: CI is reproducible
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    def run(case):
        response = case.call_and_validate(headers=AUTH, checks=CHECKS)
        sent[label] += 1
        if case.operation.label == "POST /inference" and response.status_code in (200, 202):
            created.append(response.headers["location"][0].rsplit("/", 1)[-1])

    run()
