"""Shared by the tests, the chaos run and the benchmark harness (never by the product): child processes
(`harness.processes`) and the real PostgreSQL and RabbitMQ servers with our own database and vhost on them
(`harness.servers`). Not installed with the package."""
