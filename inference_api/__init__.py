"""The composition roots: the `inference-api` command and the embedded mode. They build and start the
processes from `core`, `db`, `catalog`, `actors` and `web`; nothing imports them."""
