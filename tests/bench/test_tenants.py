"""The two-tenant modes (bench/flood.py, bench/fairness.py): a tiny run of both against the real servers
reports every figure, and their targets and page are formed from the run's own numbers. No timing is
asserted: only counts the limits fix (A's accepted POSTs within its token bucket, every refusal a 429) and
that every line of both batches was answered."""

from __future__ import annotations

import math
import re
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from actors.batch_keeper import IN_FLIGHT
from bench import fairness, results, tenant_report
from bench.flood import flood_a, summarize
from bench.settings import TENANT_PRESETS
from bench.tenants import LIMITS


def flood_round(idle_p50: float, flooded_p50: float, admission: float = 1.0) -> dict:
    phase = {"p50": idle_p50, "p99": idle_p50 * 2, "admission": 1.0, "breakdown_ms": {"model_p50": 5.0}}
    a = {"posted": 1000, "accepted": 60, "refused": 940, "refused_not_429": 0, "posted_per_s": 100.0}
    a |= {"accepted_per_s": 4.0, "client_cores": 0.1, "refusal_headers": {"Retry-After": "1", "RateLimit": "x"}}
    return {
        "idle": phase,
        "flooded": {**phase, "p50": flooded_p50, "admission": admission},
        "a": a,
        "p50_vs_idle": round(flooded_p50 / idle_p50, 4),
        "admission_vs_idle": admission,
        "cores": {"flooded": {"others": 0.2}, "by_tier": {"api": 0.5, "workers": 0.8}},
    }


def test_the_flood_figures_are_the_median_of_each_rounds_two_phases():
    flood = summarize([flood_round(10.0, 11.0), flood_round(20.0, 40.0), flood_round(10.0, 12.0, 0.5)])
    found = tenant_report.pairs({"flood": flood})
    assert found["flood_b_p50_vs_idle"]["values"] == [1.1, 2.0, 1.2] and found["flood_b_p50_vs_idle"]["median"] == 1.2
    assert found["flood_b_admission_vs_idle"]["median"] == 1.0
    checked = tenant_report.targets(found, {"flood": flood})
    assert checked["flood_b_p50_vs_idle"] == {"value": 1.2, "target": "<= 1.2", "met": True}
    assert checked["flood_a_refusals_429"]["met"] is True
    assert flood["a"]["posted"] == 3000 and flood["cores_by_tier"] == {"api": 0.5, "workers": 0.8, "a_clients": 0.1}


def test_a_refusal_that_is_not_a_429_misses_its_target():
    flood = summarize([flood_round(10.0, 30.0)])
    flood["a"]["refused_not_429"] = 1
    checked = tenant_report.targets(tenant_report.pairs({"flood": flood}), {"flood": flood})
    assert checked["flood_a_refusals_429"]["met"] is False and checked["flood_b_p50_vs_idle"]["met"] is False


def test_the_fairness_bound_is_the_keepers_in_flight_one_pass_of_as_lines_and_the_running_jobs():
    assert fairness.bound(250.4, 64) == IN_FLIGHT + math.ceil(250.4 * fairness.KEEPER_EVERY) + 64
    checked = tenant_report.targets({}, {"fairness": {"lines_ahead": 900, "bound": 1200}})
    assert checked["fairness_lines_ahead"] == {"value": 900, "target": "<= 1200 (the keeper's bound)", "met": True}
    absent = tenant_report.targets({}, {})
    assert all(check["met"] is None and check["value"] is None for check in absent.values())


@pytest.mark.integration
@pytest.mark.slow
def test_a_tiny_flood_reports_b_alone_and_flooded_and_as_refusals(tiny_run):
    doc, stdout = tiny_run
    assert "errors" not in doc and {"flood", "fairness"} <= set(doc["modes"])
    flood = doc["modes"]["flood"]
    assert flood["idle"]["admission"] == 1.0 and 0 < flood["flooded"]["admission"] <= 1.0  # B within its limits
    assert 0 < flood["idle"]["p50"] <= flood["idle"]["p99"] and 0 < flood["flooded"]["p50"] <= flood["flooded"]["p99"]
    a = flood["a"]
    assert a["refused"] > 0 and a["refused_not_429"] == 0 and a["posted"] > a["accepted"] > 0
    assert a["accepted"] <= LIMITS["rps"] * (flood["detail"][0]["a"]["seconds"] + 1)  # A's token bucket holds
    assert a["refusal_headers"]["Retry-After"] and a["refusal_headers"]["RateLimit"].startswith('"requests"')
    assert set(flood["cores_by_tier"]) == {"api", "workers", "a_clients"}
    for name in ("flood_b_p50_vs_idle", "flood_b_admission_vs_idle", "flood_a_refusals_429"):
        assert doc["targets"][name]["met"] in (True, False), name
    assert re.search(r"^flood\s+B p50 [\d.]+ ms alone, [\d.]+ ms under A's flood", stdout, re.MULTILINE)


@pytest.mark.integration
@pytest.mark.slow
def test_a_tiny_fairness_run_answers_both_batches_and_reports_the_lines_ahead_of_bs_first(tiny_run):
    doc, stdout = tiny_run
    found, sizes = doc["modes"]["fairness"], TENANT_PRESETS["tiny"]
    assert found["counts"]["a"] == {"total": sizes.batch_lines, "completed": sizes.batch_lines, "failed": 0}
    assert found["counts"]["b"] == {"total": sizes.small_batch_lines, "completed": sizes.small_batch_lines, "failed": 0}
    assert 0 <= found["lines_ahead"] <= sizes.batch_lines
    assert found["bound"] == fairness.bound(found["a_lines_per_s"], found["bound_parts"]["running"])
    assert 0 < found["b_first_line_seconds"] <= found["b_completion_seconds"]
    assert found["b_created_after_a_seconds"] > 0 and found["a_completion_seconds"] > 0
    assert doc["targets"]["fairness_lines_ahead"]["met"] in (True, False)
    assert re.search(r"^fairness \d+ of A's lines finished ahead of B's first \(bound \d+", stdout, re.MULTILINE)
    page = results.page({"bench.json": doc})
    assert "Two tenants, flood" in page and "Two tenants, bulk fairness" in page
    assert "| `fairness_lines_ahead` |" in page and "| `flood_b_p50_vs_idle` |" in page


def test_a_flooding_client_that_fails_fails_the_round_instead_of_weakening_the_flood():
    """A's posters read the id of each accepted job: an answer they cannot read kills the poster, which is
    said, not left to lower A's rate unseen."""

    def accepts_without_a_body(request, start_response):  # request: the WSGI environ
        request["wsgi.input"].read(int(request.get("CONTENT_LENGTH") or 0))
        start_response("202 Accepted", [("Content-Type", "application/json"), ("Content-Length", "9")])
        return [b"not json!"]

    server = make_server("127.0.0.1", 0, accepts_without_a_body, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuntimeError, match=r"flood: 2 of A's 2 clients failed, the first: JSONDecodeError"):
            flood_a(server.server_port, "m", seconds=0.5, clients=2, waiters=0, rate=20.0)
    finally:
        server.shutdown()


class Quiet(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the bench's client speaks

    def log_message(self, *args) -> None:
        pass
