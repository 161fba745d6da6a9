"""Every looping process survives outages of the database and the broker, logs each once, and carries on;
a broker that blocks publishers gets a POST a 503 within seconds. On private servers that these tests start,
stop and alarm themselves (tests/private_servers.py): the shared ones are never touched."""

import datetime as dt
import logging
import time
from dataclasses import replace

import pytest
from falcon.testing import TestClient

import db
from actors.batching import Batcher
from actors.sending import open_sender
from db import Job, Status, migrate
from db.base import utcnow
from db.events import JobEvents, PostgresListener, announce
from tests import private_servers
from tests.doubles import FakeRuntimes, SlowModel
from tests.processes import command, running
from tests.servers import IN_CI
from web import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def servers():
    why = private_servers.available()
    if why:
        if IN_CI:
            pytest.fail(f"private servers cannot start: {why}")
        pytest.skip(why)
    with private_servers.private_postgres() as pg, private_servers.private_rabbitmq() as rabbit:
        yield pg, rabbit


@pytest.fixture
def private_db(servers):
    pg, _ = servers
    url = pg.create_database("outages")
    database = db.connect(url, max_connections=8)
    with database.connection_context():
        database.execute_sql("DROP TABLE IF EXISTS webhook_delivery, job, migratehistory")
    migrate.apply()
    yield url
    if not pg_up(pg):
        pg.start()
    database.close_all()


def pg_up(pg) -> bool:
    return private_servers.reachable(pg.admin_url)


def stale_job(**fields) -> Job:
    created = utcnow() - fields.pop("age", dt.timedelta(minutes=5))
    return Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["x"], created_at=created, **fields)


def until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_the_sweep_command_survives_a_database_and_a_broker_outage_logging_each_once(servers, private_db, tmp_path):
    pg, rabbit = servers
    env = {"DATABASE_URL": private_db, "BROKER_URL": rabbit.url, "SWEEP_AFTER": "1", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "sweep.log"
    with running([command("inference-api"), "sweep", "--every", "0.5"], env, log) as sweeper:
        first = stale_job()
        until(lambda: Job.get_by_id(first.id).swept_at, 15, "the first stale job re-sent")
        try:
            pg.stop()
            until(lambda: log.read_text().count("sweep failed") == 1, 15, "the sweep failure logged")
            time.sleep(3)  # deliberate: the outage lasts several more sweeps, which must not log again
        finally:
            pg.start()
        db.database.close_all()  # this test's own pooled connections died with the server
        rabbit.ctl("purge_queue", "inference")  # no worker here: while the first job's re-sent message is
        # ready in the queue, no queued job is judged lost (any of them may be the one it carries)
        second = stale_job()
        until(lambda: Job.get_by_id(second.id).swept_at, 15, "a job re-sent after the database came back")
        rabbit.ctl("purge_queue", "inference")  # the same, for the second job's re-sent message
        try:
            rabbit.stop_app()
            third = stale_job()
            until(lambda: log.read_text().count("sweep failed") == 2, 15, "the broker's sweep failure logged")
            time.sleep(3)  # deliberate: the outage lasts several more sweeps, which must not log again
        finally:
            rabbit.start_app()
        rabbit.ctl("purge_queue", "inference")  # a re-send that landed after the purge above
        until(lambda: Job.get_by_id(third.id).swept_at, 20, "a job re-sent after the broker came back")
        assert sweeper.poll() is None, log.read_text()
    text = log.read_text()
    assert text.count("sweep failed") == 2, text  # once per outage, not once per sweep
    assert text.count("works again") == 2, text
    assert "Traceback" not in text, text


def test_the_job_events_relay_survives_a_database_outage_and_relays_again(servers, private_db, caplog):
    pg, _ = servers
    hub = JobEvents()
    params = {"dbname": db.database.obj.database, **{k: db.database.obj.connect_params[k] for k in ("host", "port")}}
    listener = PostgresListener({**params, "user": "postgres", "connect_timeout": 2}, hub)
    with caplog.at_level(logging.INFO, logger="db.events"):
        listener.start()
        try:
            assert listener.listening.wait(10)
            try:
                pg.stop()
                time.sleep(5)  # deliberate: the outage lasts two reconnect attempts at least, logged once
            finally:
                pg.start()
            db.database.close_all()
            assert listener.listening.wait(15)
            job_id = stale_job(awaited=True).id  # only a job a request waits for is announced
            with hub.waiting(job_id) as finished:
                with db.database.atomic():
                    announce([job_id])  # delivered at commit
                assert finished.wait(5)
        finally:
            listener.stop()
            listener.join(5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("cannot connect" in w for w in warnings) == 1, warnings


def submit(batcher: Batcher, job: Job, timeout: float = 15):
    return batcher.submit(job.id).result(timeout=timeout)


def test_the_batcher_the_writer_and_the_lease_renewer_survive_a_database_outage(servers, private_db, caplog):
    pg, _ = servers
    model = SlowModel(2.0)
    batcher = Batcher(FakeRuntimes(model), lease_seconds=3)
    jobs = [stale_job(age=dt.timedelta(0)) for _ in range(4)]
    with caplog.at_level(logging.DEBUG, logger="actors.batching"):
        # two jobs in one batch (saved by the writer thread; a lone job is saved by the batcher itself), and the
        # model runs 2 s: the database goes while it runs
        slow = batcher.submit_many([jobs[0].id, jobs[3].id])
        assert model.started.wait(10), "the model never ran"
        try:
            pg.stop()
            for future in slow:  # the writer could not save: the messages are retried
                with pytest.raises(Exception):  # noqa: B017
                    future.result(timeout=15)
            for job in jobs[1:]:  # the batcher cannot claim: each message is handed back for a retry
                with pytest.raises(Exception):  # noqa: B017
                    submit(batcher, job)
        finally:
            pg.start()
        db.database.close_all()
        for job in jobs[1:3]:  # retried, as Dramatiq would: the first tries may meet dead pooled connections
            until(lambda job=job: submit(batcher, job), 30, f"job {job.id} saved after the outage")
    assert [Job.get_by_id(job.id).status for job in jobs[1:3]] == [Status.SUCCEEDED] * 2
    for job in (jobs[0], jobs[3]):  # their leases expire: the sweeper sends them again
        assert Job.get_by_id(job.id).status == Status.RUNNING
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum(w.startswith("batch failed") for w in warnings) == 1, warnings
    assert sum(w.startswith("batch write failed") for w in warnings) == 1, warnings
    assert sum(w.startswith("batch works again") for w in warnings) == 1, warnings


def test_a_post_on_a_broker_that_blocks_publishers_answers_503_within_seconds(servers, config, database, catalog):
    _, rabbit = servers
    sender = open_sender(rabbit.url, send_timeout=2)
    client = TestClient(create_app(replace(config, broker_url=rabbit.url), sender=sender, catalog=catalog))
    assert client.simulate_post("/inference", json={"inputs": "before the alarm"}).status_code == 202
    with rabbit.memory_alarm():
        started = time.monotonic()
        response = client.simulate_post("/inference", json={"inputs": "during the alarm"})
        took = time.monotonic() - started
    assert response.status_code == 503, response.json
    assert took < 6, took
    print(f"503 after {took:.1f} s on a blocked broker")
    assert response.headers["retry-after"]
    (job,) = Job.select().where(Job.status != Status.QUEUED)
    assert job.never_enqueued and job.failure == "not_enqueued"
    until(lambda: client.simulate_post("/inference", json={"inputs": "after"}).status_code == 202, 20, "202 again")
    sender.broker.close()


def test_a_statement_longer_than_the_statement_timeout_is_canceled_by_the_server(servers):
    import peewee

    pg, _ = servers
    bounded = db.connect(pg.url(), max_connections=2, statement_timeout_ms=300)
    try:
        started = time.monotonic()
        with pytest.raises(peewee.OperationalError, match="statement timeout"), bounded.connection_context():
            bounded.execute_sql("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 3
    finally:
        bounded.close_all()
