"""The README's production quick start, run as written on the real servers: its install command names the
extra that brings honcho, the release line runs first, and `honcho start` runs the Procfile's other lines
(web, worker, sweeper, purge) until a job posted to the API comes back succeeded; SIGTERM stops them all."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests import servers
from tests.processes import command, http, running, wait_for_job, wait_until_serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def quick_start() -> list[str]:
    """The commands of the README's production block (comments dropped)."""
    section = (ROOT / "README.md").read_text().split("## Production", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_quick_start_installs_honcho_and_starts_every_procfile_line_but_release():
    commands = quick_start()
    install = next(c for c in commands if c.startswith("pip install"))
    assert "procfile" in install  # the extra that brings honcho
    start = next(c for c in commands if c.startswith("honcho start"))
    named = [word for word in start.split()[2:] if not word.startswith("-") and not word.isdigit()]
    assert sorted(named) == sorted(set(procfile()) - {"release"})
    assert procfile()["release"] in commands  # run on its own, before honcho
    assert commands.index(procfile()["release"]) < commands.index(start)


def test_the_production_quick_start_serves_a_job_under_honcho(tmp_path, models_dir):
    honcho = Path(command("honcho"))
    if not honcho.exists():
        message = "honcho is not installed (pip install '.[procfile]'; make test installs it)"
        pytest.fail(message) if servers.IN_CI else pytest.skip(message)
    database_url = servers.postgres_url(f"{servers.TEST_DATABASE}_quickstart")
    broker_url = servers.rabbitmq_url(f"{servers.TEST_VHOST}_quickstart")
    import db

    database = db.connect(database_url)
    with database.connection_context():  # a fresh database: the release line migrates it
        tables = [r[0] for r in database.execute_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        if tables:
            database.execute_sql(f"DROP TABLE {', '.join(f'{chr(34)}{t}{chr(34)}' for t in tables)} CASCADE")
    database.close_all()

    port = servers.free_port()
    script = quick_start_script(honcho, broker_url, database_url, port, tmp_path)
    assert script[-1].startswith("exec honcho start"), script
    env = {
        "MODELS_DIR": str(models_dir),
        "WORKER_HEARTBEAT_DIR": str(tmp_path / "heartbeats"),
        "dramatiq_prom_port": str(servers.free_port()),
        "dramatiq_prom_db": str(tmp_path / "prometheus"),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "quickstart.log"
    base = f"http://127.0.0.1:{port}"
    with running(["bash", "-ec", "\n".join(script)], env, log, timeout=40) as process:
        wait_until_serving(base, process, log, timeout=180)
        key = (tmp_path / "key").read_text().strip()  # the README's generated API key, as a client is given it
        status, job = http(
            "POST",
            f"{base}/inference",
            {"inputs": ["Vai Corinthians", "Bom dia"]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert status == 202, job
        finished = wait_for_job(base, job["id"], timeout=120, key=key)
        assert finished["status"] == "succeeded", (finished, log.read_text())
        assert [len(o["embedding"]) for o in finished["output"]] == [384, 384]
        process.send_signal(signal.SIGTERM)
        # honcho stops every process with SIGTERM and exits with the status its processes ended with
        assert process.wait(timeout=40) in (0, 128 + signal.SIGTERM), log.read_text()
    text = log.read_text()
    assert "applied: 001_initial" in text  # the release line ran, first
    before_stop = text.split("SIGTERM received", 1)[0]
    for name in ("web", "worker", "sweeper", "purge"):
        assert f"{name}.1 started" in before_stop, text
    assert " stopped (rc=" not in before_stop, text  # none ended on its own (honcho would stop them all)
    assert "Traceback" not in text, text
    assert not started_by(env["dramatiq_prom_db"]), "processes left running after honcho stopped"


def started_by(marker: str) -> list[int]:
    """The processes whose environment holds `marker` (a value only this test sets)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def quick_start_script(honcho: Path, broker_url: str, database_url: str, port: int, tmp_path: Path) -> list[str]:
    """The README's production block as a script for this machine: this environment's honcho, our own
    database and vhost, a free port, the generated API key written where the test reads it."""
    script = []
    for line in quick_start():
        if line.startswith("python3 -m venv"):
            line = f'export PATH="{honcho.parent}:$PATH"'  # activate this environment, the one installed
        if line.startswith("pip install"):
            continue
        line = re.sub(r"^export BROKER_URL=.*", f"export BROKER_URL='{broker_url}'", line)
        line = re.sub(r"^export DATABASE_URL=.*", f"export DATABASE_URL='{database_url}'", line)
        if line.startswith("export API_KEYS="):
            script += [line, f'printf %s "$API_KEYS" > "{tmp_path / "key"}"']
            continue
        if line.startswith("honcho start"):
            line = "exec " + line.replace("-p 8000", f"-p {port}")  # SIGTERM goes to honcho itself
        script.append(line)
    return script
