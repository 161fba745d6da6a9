"""On PostgreSQL, requests with the same owner and Idempotency-Key take turns through an advisory lock
(db/admission.py), across threads and processes alike: a replay racing a failing first send never answers
202 for a job that will not run."""

from falcon.testing import TestClient

from actors.sending import open_sender
from db import Job, Status
from db.admission import key_turn
from tests.conftest import queued_messages
from tests.web.idempotency_helpers import race_over_a_blocked_first_send
from web import create_app


def test_a_replay_on_postgresql_waits_for_the_first_send_and_sends_a_failed_one_again(
    postgres, config, catalog, monkeypatch
):
    sender = open_sender("stub://")
    client = TestClient(create_app(config, sender=sender, catalog=catalog))

    def post():
        return client.simulate_post("/inference", json={"inputs": "x"}, headers={"Idempotency-Key": "k-pg"})

    first, second = race_over_a_blocked_first_send(monkeypatch, sender, post)
    assert first.status_code == 503
    assert second.status_code == 202 and second.headers["idempotent-replayed"] == "true"
    assert Job.get_by_id(second.json["id"]).status == Status.QUEUED and queued_messages(sender) == 1
    assert advisory_locks(postgres) == 0  # none left held by a pooled connection


def advisory_locks(database, *, mine: bool = False) -> int:
    """Advisory locks held in this database (with `mine`: by this connection only)."""
    sql = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return database.execute_sql(sql + (" AND pid = pg_backend_pid()" if mine else "")).fetchone()[0]


def test_the_advisory_lock_is_released_after_each_turn(postgres):
    with key_turn("owner", "k"):
        held = advisory_locks(postgres, mine=True)
    assert held == 1 and advisory_locks(postgres) == 0
