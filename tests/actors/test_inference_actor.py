"""The inference actor as a unit: a stand-in model (the actor, not the model, is under test)."""

import uuid

import pytest

from actors.setup import worker_sender
from core.errors import ModelError, ModelUnavailable
from db import Job, Status
from tests.doubles import FakeModel, FakeRuntimes, new_job


@pytest.fixture
def run(database, stub_worker):
    """Send job ids to a real Dramatiq worker on a StubBroker and wait until they are processed."""

    def run(model, *job_ids, threads=2):
        actors = worker_sender("stub://", FakeRuntimes(model))
        stub_worker(actors.broker, threads=threads)
        for job_id in job_ids:
            actors.send(job_id)
        actors.broker.join(actors.actor.queue_name, timeout=10_000)
        return actors

    return run


def test_a_job_runs_once_and_saves_one_output_per_input(run):
    model = FakeModel()
    job = new_job(parameters={"normalize": False})
    run(model, job.id)
    stored = Job.get_by_id(job.id)
    assert stored.status == Status.SUCCEEDED
    assert stored.output == [{"embedding": [2.0]}, {"embedding": [5.0]}]
    assert model.calls == [(["hi", "there"], {"task": "feature-extraction", "normalize": False})]
    assert stored.attempts == 1 and stored.inference_ms is not None and stored.finished_at is not None


def test_a_redelivered_message_for_a_finished_job_neither_runs_nor_writes(run):
    model = FakeModel()
    job = new_job()
    actors = run(model, job.id)
    finished = Job.get_by_id(job.id)
    for _ in range(3):
        actors.send(job.id)
    actors.broker.join(actors.actor.queue_name, timeout=10_000)
    stored = Job.get_by_id(job.id)
    assert len(model.calls) == 1
    assert stored.attempts == 1
    assert (stored.status, stored.finished_at, stored.output) == (
        Status.SUCCEEDED,
        finished.finished_at,
        finished.output,
    )


def test_duplicate_deliveries_in_flight_together_write_one_result(run):
    model = FakeModel()
    job = new_job()
    run(model, job.id, job.id, job.id)
    stored = Job.get_by_id(job.id)
    assert stored.status == Status.SUCCEEDED
    assert stored.attempts == len(model.calls)  # each delivery that ran counted its attempt
    assert stored.output == [{"embedding": [2.0]}, {"embedding": [5.0]}]


def test_a_canceled_job_is_skipped(run):
    model = FakeModel()
    job = new_job(status=Status.CANCELED)
    run(model, job.id)
    assert model.calls == []
    assert Job.get_by_id(job.id).status == Status.CANCELED


def test_a_model_error_fails_the_job_at_once_with_the_reason(run):
    model = FakeModel(fail=ModelError("input 0 is poison"))
    job = new_job()
    actors = run(model, job.id)
    stored = Job.get_by_id(job.id)
    assert stored.status == Status.FAILED
    assert stored.error == "ModelError: input 0 is poison"
    assert len(model.calls) == 1  # not retried
    assert actors.broker.dead_letters == []


def test_a_message_for_an_unknown_job_is_dropped(run):
    model = FakeModel()
    run(model, uuid.uuid4())
    assert model.calls == []


def test_jobs_that_arrive_together_share_one_model_run_and_keep_their_own_outputs(run):
    model = FakeModel()
    jobs = [Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["x" * n]) for n in range(1, 41)]
    actors = run(model, *[job.id for job in jobs], threads=40)
    assert len(model.calls) < len(jobs)  # batched: fewer runs than jobs
    assert max(len(inputs) for inputs, _ in model.calls) <= 16  # the catalog's max_batch_size
    for n, job in enumerate(jobs, start=1):
        stored = Job.get_by_id(job.id)
        assert (stored.status, stored.output) == (Status.SUCCEEDED, [{"embedding": [float(n)]}])
    assert actors.broker.dead_letters == []


def test_one_message_with_the_ids_of_jobs_accepted_together_runs_them_all_in_one_thread(database, stub_worker):
    model = FakeModel()
    jobs = [Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["x" * n]) for n in range(1, 11)]
    actors = worker_sender("stub://", FakeRuntimes(model))
    stub_worker(actors.broker, threads=1)
    actors.send(*[job.id for job in jobs])
    actors.broker.join(actors.actor.queue_name, timeout=10_000)
    assert len(model.calls) == 1  # one thread, one message: the ten jobs share one model run
    for n, job in enumerate(jobs, start=1):
        stored = Job.get_by_id(job.id)
        assert (stored.status, stored.output) == (Status.SUCCEEDED, [{"embedding": [float(n)]}])


def test_a_batch_holds_two_runs_of_jobs_and_runs_them_sorted_by_length(database, stub_worker):
    model = FakeModel()
    lengths = [n for pair in zip(range(1, 17), range(17, 33), strict=True) for n in pair]  # short, long, ...
    jobs = [Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["x" * n]) for n in lengths]
    actors = worker_sender("stub://", FakeRuntimes(model))
    stub_worker(actors.broker, threads=1)
    actors.send(*[job.id for job in jobs])  # 32 jobs: one batch (two runs of the catalog's 16)
    actors.broker.join(actors.actor.queue_name, timeout=10_000)
    runs = [[len(text) for text in inputs] for inputs, _ in model.calls]
    assert runs == [list(range(1, 17)), list(range(17, 33))]  # the 16 shortest of the 32 ran together
    for n, job in zip(lengths, jobs, strict=True):
        assert Job.get_by_id(job.id).output == [{"embedding": [float(n)]}]


def test_a_bad_input_fails_only_its_own_job(run):
    model = FakeModel()
    good = [new_job() for _ in range(5)]
    bad = Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["poison"])
    run(model, *[job.id for job in good], bad.id, threads=8)
    assert [Job.get_by_id(job.id).status for job in good] == [Status.SUCCEEDED] * 5
    failed = Job.get_by_id(bad.id)
    assert (failed.status, failed.error) == (Status.FAILED, "ModelError: poison input")


def test_jobs_with_different_parameters_do_not_share_a_run(run):
    model = FakeModel()
    plain, raw = new_job(), new_job(parameters={"normalize": False})
    run(model, plain.id, raw.id, threads=4)
    assert sorted(params.get("normalize", True) for _, params in model.calls) == [False, True]


def test_a_job_on_a_later_attempt_runs_alone(database):
    from actors.batching import Batcher

    model = FakeModel()
    fresh = [new_job(), new_job()]
    retried = new_job(attempts=1, status=Status.RUNNING)  # it was running when its worker died
    run_batch(Batcher(FakeRuntimes(model)), [*fresh, retried])
    assert sorted(len(inputs) for inputs, _ in model.calls) == [2, 4]  # the two fresh jobs together, the retry alone
    assert Job.get_by_id(retried.id).attempts == 2


def run_batch(batcher, jobs):
    """One batch, straight to the batcher; returns once every job's outcome is saved."""
    from concurrent.futures import Future

    items = [(str(job.id), Future()) for job in jobs]
    batcher.run_batch(items)
    for _, future in items:
        future.result(timeout=10)


def test_a_job_whose_retries_run_out_fails_with_the_reason(database, stub_worker, monkeypatch):
    from actors.batching import Batcher

    def database_gone(self, job_ids):
        raise ConnectionError("database went away")

    monkeypatch.setattr(Batcher, "submit_many", database_gone)
    job = new_job()
    actors = worker_sender("stub://", FakeRuntimes(FakeModel()))
    actors.actor.options.update(max_retries=1, min_backoff=10, max_backoff=20)
    stub_worker(actors.broker)
    actors.send(job.id)
    actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)
    stored = Job.get_by_id(job.id)
    assert stored.status == Status.FAILED
    assert stored.error == "gave up after 2 attempts: a connection failed"  # the detail goes to the log only


def test_when_retries_run_out_every_job_of_the_message_fails_with_the_reason(database, stub_worker, monkeypatch):
    from actors.batching import Batcher

    def database_gone(self, job_ids):
        raise ConnectionError("database went away")

    monkeypatch.setattr(Batcher, "submit_many", database_gone)
    jobs = [new_job() for _ in range(3)]
    actors = worker_sender("stub://", FakeRuntimes(FakeModel()))
    actors.actor.options.update(max_retries=0)
    stub_worker(actors.broker)
    actors.send(*[job.id for job in jobs])
    actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)
    assert {Job.get_by_id(job.id).status for job in jobs} == {Status.FAILED}


def test_a_job_error_names_the_kind_of_fault_never_the_drivers_text():
    import peewee
    from dramatiq.middleware.time_limit import TimeLimitExceeded

    from actors.middleware import short_reason

    leak = 'connection to server at "10.0.0.5", port 5432 failed: FATAL: password authentication failed for user "app"'
    assert short_reason(peewee.OperationalError(leak)) == "the database was unavailable"
    assert short_reason(TimeLimitExceeded()) == "the time limit was exceeded"
    assert "10.0.0.5" not in short_reason(RuntimeError(leak))


def test_a_job_that_keeps_crashing_its_worker_is_failed_without_running_again(database):
    from actors.batching import MAX_STARTS, Batcher

    model = FakeModel()
    poison = new_job(attempts=MAX_STARTS, status=Status.RUNNING)  # started that often, never finished
    healthy = new_job()
    run_batch(Batcher(FakeRuntimes(model)), [poison, healthy])
    stored = Job.get_by_id(poison.id)
    assert stored.status == Status.FAILED
    assert stored.error.startswith(f"gave up: started {MAX_STARTS} times without finishing")
    assert model.calls == [(["hi", "there"], {"task": "feature-extraction"})]  # only the healthy job ran
    assert Job.get_by_id(healthy.id).status == Status.SUCCEEDED


class NulModel:
    """Generates a text holding U+0000 for an input that asks for it: what PostgreSQL's jsonb refuses."""

    def __call__(self, inputs, **parameters):
        return [{"generated_text": "a\x00b" if "nul" in text else text} for text in inputs]


def test_an_output_the_database_cannot_store_fails_its_own_job_at_once_and_not_the_others(run):
    bad = Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["nul please"])
    good = new_job()
    run(NulModel(), bad.id, good.id)
    failed = Job.get_by_id(bad.id)
    assert (failed.status, failed.failure, failed.attempts) == (Status.FAILED, "unstorable_output", 1)
    assert "U+0000" in failed.error and failed.output is None
    assert Job.get_by_id(good.id).status == Status.SUCCEEDED


class UnloadableRuntimes(FakeRuntimes):
    """A worker whose model cannot be loaded (a damaged file): ONNX Runtime's message quotes its path."""

    def get(self, name):
        raise ModelUnavailable(f"model {name!r} could not be loaded on a worker")


def test_a_model_that_cannot_be_loaded_retries_the_job_then_fails_it_naming_no_path(database, stub_worker):
    job = new_job()
    actors = worker_sender("stub://", UnloadableRuntimes(None))
    actors.actor.options.update(max_retries=1, min_backoff=10, max_backoff=10)
    stub_worker(actors.broker)
    actors.send(job.id)
    actors.broker.join(actors.actor.queue_name, timeout=10_000, fail_fast=False)  # dead-lettered
    failed = Job.get_by_id(job.id)
    assert (failed.status, failed.failure) == (Status.FAILED, "retries_exhausted")
    assert failed.error == "gave up after 2 attempts: the model could not be loaded on a worker"
