"""The servers a process talks to, and how each connection to them is bounded: the first fields of
`core.config.Config` (its base), declared with their settings like every other field."""

from __future__ import annotations

from dataclasses import dataclass

from core.readers import EMBEDDED_BROKER
from core.settings import choice, integer, text


@dataclass(frozen=True)
class Servers:
    broker_url: str = text(
        "BROKER_URL",
        EMBEDDED_BROKER,
        "`amqp://user:pass@host:5672/vhost` for RabbitMQ (several nodes separated by `;`); `stub://` is the "
        "embedded mode: an in-process broker and worker",
        schemes=("amqp://", "amqps://"),
    )
    database_url: str = text(
        "DATABASE_URL",
        "",
        "`postgresql://user@host:5432/db` (libpq's form, several hosts allowed) or `sqlite:///path`",
        schemes=("sqlite://", "postgres://", "postgresql://"),
        shown="SQLite file `$DATA_DIR/inference.db`",
    )
    statement_timeout_ms: int = integer(
        "STATEMENT_TIMEOUT_MS",
        30_000,
        "PostgreSQL `statement_timeout` of every connection (`0`: none; migrations have none)",
        minimum=0,
    )
    broker_send_timeout: int = integer(
        "BROKER_SEND_TIMEOUT",
        5,
        "seconds a publish may wait on a broker that blocks publishers before the `POST` gets 503",
    )
    queue_type: str = choice(
        "QUEUE_TYPE",
        "classic",
        ("classic", "quorum"),
        "how the RabbitMQ queues are declared: `quorum` (replicated; for a RabbitMQ cluster) or `classic` (one "
        "node); a queue's type cannot change in place (see [Reliability](reliability.md#quorum-queues))",
    )
    amqp_heartbeat: int = integer(
        "AMQP_HEARTBEAT",
        10,
        "seconds of the AMQP heartbeat a worker negotiates: a silent broker connection is dropped within about "
        "two of them (a `heartbeat=` in `BROKER_URL`'s query wins, in every process)",
    )
    db_connect_timeout: int = integer(
        "DB_CONNECT_TIMEOUT", 5, "seconds a PostgreSQL connection attempt may take, per host (libpq `connect_timeout`)"
    )
    db_keepalives_idle: int = integer(
        "DB_KEEPALIVES_IDLE",
        10,
        "seconds a PostgreSQL connection may be idle before TCP keepalive probes start (`keepalives_idle`); with "
        "`DB_KEEPALIVES_INTERVAL` and `DB_KEEPALIVES_COUNT`, a silent peer is found in about 25 s",
    )
    db_keepalives_interval: int = integer(
        "DB_KEEPALIVES_INTERVAL", 5, "seconds between TCP keepalive probes of a PostgreSQL connection"
    )
    db_keepalives_count: int = integer(
        "DB_KEEPALIVES_COUNT", 3, "unanswered TCP keepalive probes after which a PostgreSQL connection is dead"
    )
    db_tcp_user_timeout_ms: int = integer(
        "DB_TCP_USER_TIMEOUT_MS",
        20_000,
        "milliseconds data sent to PostgreSQL may stay unacknowledged before the connection is dropped "
        "(libpq `tcp_user_timeout`; `0`: the kernel's default, many minutes)",
        minimum=0,
    )

    @property
    def embedded(self) -> bool:
        return self.broker_url == EMBEDDED_BROKER

    @property
    def database_bounds(self) -> dict[str, int]:
        """libpq's connection parameters that bound a silent or unreachable PostgreSQL."""
        return {
            "connect_timeout": self.db_connect_timeout,
            "keepalives": 1,
            "keepalives_idle": self.db_keepalives_idle,
            "keepalives_interval": self.db_keepalives_interval,
            "keepalives_count": self.db_keepalives_count,
            "tcp_user_timeout": self.db_tcp_user_timeout_ms,
        }
