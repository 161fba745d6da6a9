"""`inference-api sweep` once (a CronJob) runs one pass of the sweep and one of the batch keeper
(inference_api/commands.py)."""

from db import Job
from db.bulk import Batch, BatchRequest, BatchStatus
from inference_api.cli import main
from tests.doubles import make_batch


def test_sweep_once_also_releases_a_batchs_lines_and_ends_an_answered_batch(config, database, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(config.data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BROKER_URL", raising=False)
    waiting = make_batch("key-a", 2)
    answered = make_batch("key-b", 1, invalid=1)  # its only line was refused: nothing left to run
    main(["sweep"])
    released = [r.job for r in BatchRequest.select().where(BatchRequest.batch == waiting.id)]
    assert Job.select().where(Job.id.in_(released)).count() == 2
    assert Batch.get_by_id(answered.id).status == BatchStatus.COMPLETED
    assert "batches: 2 line(s) released" in capsys.readouterr().out
