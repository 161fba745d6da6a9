"""Run an `inference-api` command with this process' Prometheus registry served on a port:
`python serve_metrics.py PORT COMMAND [ARGUMENT ...]`.

The sweeper's counters (inference_api_sweeper_resends_total, inference_api_sweeper_lost_jobs_total) live
in the process that sweeps: `inference-api sweep --every S` keeps one process alive, and this entry lets
Prometheus scrape it (deploy/k8s/base/sweeper.yaml). Mounted from the ConfigMap `inference-api-metrics-entry`.
"""

import sys

from prometheus_client import start_http_server

from inference_api.cli import main

start_http_server(int(sys.argv[1]), addr="0.0.0.0")
sys.exit(main(sys.argv[2:]))
