"""The variables the code reads that the manifests leave unset on purpose, each with its reason."""

NOT_SET_IN_KUBERNETES = {
    "HOST": "given by `serve --host 0.0.0.0`",
    "DATA_DIR": "the embedded mode's SQLite and models; DATABASE_URL and MODELS_DIR are set instead",
    "INFERENCE_CATALOG": "the catalog shipped in the package; mount a ConfigMap and set it to use your own",
    "API_KEYS_FILE": "the keys come from the Secret as API_KEYS",
    "BUILD_COMMIT": "baked into each image at build time (`ARG BUILD_COMMIT`, the workflow passes the commit)",
    "QUEUE_TYPE": "classic by default, for the manifests' one-node RabbitMQ; a replicated cluster sets quorum",
    "AMQP_HEARTBEAT": "the default (10 s) finds a silent broker in about 20 s, well inside every probe's bound",
    "DB_CONNECT_TIMEOUT": "the default (5 s a host) suits an in-cluster database",
    "DB_KEEPALIVES_IDLE": "the defaults find a silent database in about 25 s",
    "DB_KEEPALIVES_INTERVAL": "the defaults find a silent database in about 25 s",
    "DB_KEEPALIVES_COUNT": "the defaults find a silent database in about 25 s",
    "DB_TCP_USER_TIMEOUT_MS": "the default (20 s) drops a connection whose sent data goes unacknowledged",
    "STALL_SECONDS": "the default (45 s) reports a stuck worker within a minute, above every bounded wait",
    "MAX_JSON_NODES": "the default (10,000 JSON values a body) suits the default MAX_BODY_BYTES",
    "KEY_RPS": "per-key limits: the defaults apply until the keys file names a key's own",
    "KEY_BACKLOG": "per-key limits: the defaults apply until the keys file names a key's own",
    "KEY_WAITS": "per-key limits: the defaults apply until the keys file names a key's own",
    "ALLOW_OPEN": "the API in Kubernetes always has keys (the Secret's API_KEYS): never open",
    "BULK_NICE": "the default (19): bulk runs take only the CPU the rest leaves idle, whatever the host",
}
