"""The curl examples of the README and the manual run as written against a real `inference-api serve`, and
what each prints has the shape of the sample output written under it (`# HTTP/1.1 202 Accepted`, headers,
`# {...}`): status codes, header values, field names, types, counts and exact values where the sample
gives them without `...`. An example cannot drift from the service, nor a placeholder be left unset."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docs.samples import SampleError, compare, parse_sample
from tests.processes import command, running, wait_until_serving
from tests.servers import free_port
from tests.webhook_receiver import new_secret, receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "docs/api.md", "docs/clients.md"]  # in this order, in one server: jobs accumulate
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WEBHOOK_TARGET = "https://example.com/hooks"


@dataclass
class Example:
    document: str
    line: int
    command: str
    output: list[str] = field(default_factory=list)  # the sample of what the command prints
    delivered: list[str] = field(default_factory=list)  # the sample of what a webhook receiver gets

    def __str__(self) -> str:
        return f"{self.document}:{self.line}"


def examples(document: str) -> list[Example]:
    """The examples of the document's ```sh blocks that call the API with curl, with their samples."""
    text = (ROOT / document).read_text()
    found = []
    for block in re.finditer(r"^```sh\n(.*?)^```", text, re.M | re.S):
        first = text.count("\n", 0, block.start(1)) + 1
        lines = block.group(1).splitlines()
        current, i = None, 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("#"):
                if current is not None:
                    sample = line[1:].removeprefix(" ")
                    (current.delivered if current.delivered or sample.startswith("POST /") else current.output).append(
                        sample
                    )
                i += 1
                continue
            start = i
            while lines[i].endswith("\\"):
                i += 1
            text_lines = lines[start : i + 1]
            inline = re.search(r"\s{2,}#\s(.*)$", text_lines[-1])
            if inline:
                text_lines[-1] = text_lines[-1][: inline.start()]
            current = Example(document, first + start, "\n".join(text_lines).strip())
            if inline:
                current.output.append(inline.group(1))
            found.append(current)
            i += 1
    return [e for e in found if "curl " in e.command]


def test_the_readme_and_the_manual_have_curl_examples_with_samples():
    every = [e for d in DOCUMENTS for e in examples(d)]
    assert {e.document for e in every} == set(DOCUMENTS)
    assert sum(1 for e in every if e.output) >= 8


def test_no_example_uses_a_placeholder_that_fails_silently():
    """A job id is `${ID:?...}`: unset, the shell stops with a message instead of listing every job."""
    for example in [e for d in DOCUMENTS for e in examples(d)]:
        assert "/inference/ID" not in example.command, example
        assert not UUID.search(example.command), example  # a copied id that exists on no one's server
        assert not re.search(r"\$ID\b|\$\{ID\}", example.command), example


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_dir):
    """`inference-api serve` on a free port, embedded, with webhooks on and a local receiver for them."""
    root = tmp_path_factory.mktemp("examples")
    secret = new_secret()
    port = free_port()
    env = {
        "DATA_DIR": str(root),
        "MODELS_DIR": str(models_dir),
        "PORT": str(port),
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }
    log = root / "serve.log"
    with receiver(secret) as hooks, running([command("inference-api"), "serve"], env, log) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process, log)
        yield base, hooks, root


@pytest.mark.parametrize("document", DOCUMENTS)
def test_each_curl_example_runs_and_prints_what_its_sample_shows(server, document):
    base, hooks, root = server
    found = examples(document)
    outputs = run(found, base, hooks.url, root)
    for example, printed in zip(found, outputs, strict=True):
        problems = compare_output(example.output, printed)
        assert not problems, f"{example}: {example.command}\n{problems}\nprinted:\n{printed[:2000]}"
        if example.delivered:
            calls = hooks.wait_for(1)
            assert calls[-1].payload is not None, "the delivery's signature did not verify"
            sample = parse_sample([line for line in example.delivered if line.lstrip()[:1] in "{[ "])
            problems = compare(sample, json.loads(calls[-1].body), "$")
            assert not problems, f"{example}: the webhook delivery\n{problems}"


def run(found: list[Example], base: str, hook_url: str, cwd: Path) -> list[str]:
    """Run a document's examples in one shell, in order (a variable set by one is seen by the next), as a
    reader would paste them; `set -e`: an example that fails stops the run and fails the test."""
    marker = "@@example-output@@"
    script = ["set -eo pipefail"]
    for example in found:
        text = example.command.replace("localhost:8000", base.removeprefix("http://"))
        script += [f"printf '\\n{marker}\\n'", text.replace(WEBHOOK_TARGET, hook_url)]
    env = {key: value for key, value in os.environ.items() if key not in ("ID", "INFERENCE_API_KEY")}
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    outputs = done.stdout.split(f"\n{marker}\n")[1:]
    assert done.returncode == 0 and len(outputs) == len(found), (
        f"example {found[max(len(outputs) - 1, 0)]} failed (exit {done.returncode}):\n{done.stderr}\n{done.stdout}"
    )
    return outputs


def compare_output(sample: list[str], printed: str) -> list[str]:
    """The printed output against the sample lines: the status line, then headers, then a JSON body."""
    status, headers, body = split_response(printed)
    problems = []
    lines = list(sample)
    if lines and (expected := re.match(r"HTTP/[\d.]+ (\d{3})", lines[0])):
        lines.pop(0)
        if status != int(expected.group(1)):
            problems.append(f"status {status}, the sample says {expected.group(1)}")
        while lines and (header := re.match(r"([A-Za-z-]+): (.*)$", lines[0])):
            lines.pop(0)
            name, value = header.group(1).lower(), header.group(2)
            if name not in headers:
                problems.append(f"no {header.group(1)} header")
            elif "..." not in value and UUID.sub("<id>", headers[name]) != UUID.sub("<id>", value):
                problems.append(f"{header.group(1)}: {headers[name]}, the sample says {value}")
    elif status is not None and status >= 400:
        problems.append(f"status {status}")
    json_lines = []
    for line in lines:  # a JSON sample, then prose (ignored)
        if not json_lines and not line.startswith(("{", "[")):
            break
        json_lines.append(line)
        try:
            parse_sample(json_lines)
            break
        except SampleError:
            continue
    if json_lines:
        if body is None:
            problems.append("no JSON body")
        else:
            problems += compare(parse_sample(json_lines), body, "$")
    elif printed.strip() and status != 204:
        assert body is not None or status is None, printed  # what curl printed is a JSON body
    return problems


def split_response(printed: str) -> tuple[int | None, dict[str, str], object]:
    status, headers, text = None, {}, printed.strip()
    if text.startswith("HTTP/"):
        head, _, text = printed.replace("\r\n", "\n").strip().partition("\n\n")
        first, *rest = head.splitlines()
        status = int(first.split()[1])
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in rest)}
    body = json.loads(text) if text else None
    return status, headers, body
