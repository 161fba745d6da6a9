"""`inference-api models prepare` records each preparation in the database in the same step (no export
runs here: the models are prepared already, which is the case it must record too)."""

import pytest

import db
from db import PreparedModel, migrate
from inference_api.cli import main

pytestmark = pytest.mark.slow


def test_prepare_records_each_model_in_the_database(environment, capsys):
    db.connect(f"sqlite:///{environment / 'inference.db'}")
    migrate.apply()
    main(["models", "prepare", "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"])
    main(["models", "prepare", "all-MiniLM-L6-v2"])  # again: still one row per preparation
    with db.database.connection_context():
        rows = {row.name: row for row in PreparedModel.select()}
    assert sorted(rows) == ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"]
    assert rows["all-MiniLM-L6-v2-int8"].quantization == "int8-dynamic-per-channel"
    assert rows["all-MiniLM-L6-v2"].manifest["dimensions"] == 384
    assert "all-MiniLM-L6-v2: recorded in sqlite:///" in capsys.readouterr().err


def test_prepare_migrates_the_embedded_database_itself_as_serve_does(environment, capsys):
    main(["models", "prepare"])  # no DATABASE_URL: the SQLite file in DATA_DIR, new
    assert "all-MiniLM-L6-v2: recorded in sqlite:///" in capsys.readouterr().err


def test_prepare_fails_clearly_when_it_cannot_record_and_says_what_to_do(environment, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{environment / 'elsewhere.db'}")
    with pytest.raises(SystemExit, match="could not prepare all-MiniLM-L6-v2"):
        main(["models", "prepare"])  # a database of the deployment's that nobody migrated
    err = capsys.readouterr().err
    assert "prepared in" in err and "but not recorded in sqlite:///" in err
    assert "run `inference-api migrate`, then run this command again" in err


def test_a_database_url_is_shown_without_its_password():
    from inference_api.commands import _shown

    assert _shown("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert _shown("sqlite:///var/inference.db") == "sqlite:///var/inference.db"
