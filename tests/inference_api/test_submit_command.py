"""`inference-api submit` runs the client's command, which lives in its own package (./client): without it
the command says so in one line with the fix, never a traceback."""

import builtins
import sys

import pytest

from inference_api.cli import main


def refuse_imports(monkeypatch, top: str, forget: str) -> None:
    """Importing `top` (or a module under it) fails as it would where it is not installed; the modules under
    `forget` already imported are forgotten first, so they are imported again."""
    for name in [n for n in sys.modules if n == forget or n.startswith(f"{forget}.")]:
        monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def refusing(name, *args, **kwargs):
        if name == top or name.startswith(f"{top}."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refusing)


@pytest.fixture
def without_the_client(monkeypatch):
    """An install without inference-api-client: importing it fails as it would there."""
    refuse_imports(monkeypatch, "inference_client", "inference_client")


def test_submit_without_the_client_installed_fails_with_one_line_naming_the_fix(without_the_client):
    with pytest.raises(SystemExit) as exited:
        main(["submit", "inputs.jsonl"])
    message = str(exited.value.code)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("inference-api submit needs the client (inference-api-client)")
    assert "pip install ./client" in message


def test_submit_with_the_client_installed_runs_the_clients_command(capsys):
    pytest.importorskip("inference_client")
    with pytest.raises(SystemExit) as exited:
        main(["submit", "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: inference-api submit")


def test_a_module_missing_inside_the_client_is_not_mistaken_for_the_client_missing(monkeypatch):
    pytest.importorskip("inference_client")
    refuse_imports(monkeypatch, "httpx", "inference_client")
    with pytest.raises(ModuleNotFoundError, match="httpx"):
        main(["submit", "--help"])
