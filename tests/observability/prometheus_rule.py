"""The PrometheusRule the Prometheus Operator loads, generated from deploy/observability/alerts.yml (the one
source of the alert rules). `python -m tests.observability.prometheus_rule --write` rewrites it; a test in
test_monitoring.py fails when the committed file differs from what this renders."""

from __future__ import annotations

import sys

import yaml

from tests.observability.deployed import DEPLOY

RULE_FILE = DEPLOY.parent / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"
HEADER = (
    "# GENERATED from deploy/observability/alerts.yml by `python -m tests.observability.prometheus_rule --write`:\n"
    "# edit alerts.yml, then regenerate (tests/observability/test_monitoring.py checks the two agree).\n"
)


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the PromQL expressions), lists indented: yamllint's style."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def rule_object() -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "inference-api"},
        "spec": yaml.safe_load((DEPLOY / "alerts.yml").read_text()),
    }


def render() -> str:
    body = yaml.dump(rule_object(), Dumper=_Dumper, sort_keys=False, width=100, indent=2, allow_unicode=True)
    return HEADER + body


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        RULE_FILE.write_text(render())
    else:
        sys.stdout.write(render())
