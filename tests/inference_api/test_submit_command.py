"""`inference-api submit` runs the client's command, which lives in its own package (./client): without it
the command says so in one line with the fix, never a traceback."""

import builtins
import sys

import pytest

from inference_api.cli import main


@pytest.fixture
def without_the_client(monkeypatch):
    """An install without inference-api-client: importing it fails as it would there."""
    for name in [n for n in sys.modules if n == "inference_client" or n.startswith("inference_client.")]:
        monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def refusing(name, *args, **kwargs):
        if name == "inference_client" or name.startswith("inference_client."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refusing)


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
    for name in [n for n in sys.modules if n.startswith("inference_client")]:
        monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def without_httpx(name, *args, **kwargs):
        if name == "httpx" or name.startswith("httpx."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_httpx)
    with pytest.raises(ModuleNotFoundError, match="httpx"):
        main(["submit", "--help"])
