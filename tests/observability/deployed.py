"""The observability files as deployed (deploy/observability): where they are, the dashboard's queries and
the alert rules, read the same way by the static checks and by the test that loads them into Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy" / "observability"


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"] for rule in group["rules"]]
