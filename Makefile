# The two commands: `make run` (the service, embedded: no servers needed) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two installs, each recorded by a stamp: what serving needs (`make run`), then the test and deployment tools.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-test
# checkov in a virtual environment of its own (its pins clash with the dev tools); tests/deploy finds it there.
CHECKOV := $(VENV)/checkov/bin/checkov

.PHONY: run test lint format worker clean

run: $(RUN_STAMP)
	@echo "make run: starting the service (the first start also prepares the default model: 20 to 40 s)"
	$(BIN)/inference-api serve

test: $(STAMP) $(CHECKOV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Production-style worker (needs BROKER_URL and DATABASE_URL): see the Procfile.
worker: $(RUN_STAMP)
	$(BIN)/dramatiq actors.worker --processes 2 --threads 8

# The benchmark harness (needs PostgreSQL and RabbitMQ; uses its own database and vhost): see bench/.
.PHONY: bench
# It prepares the models it measures first (a no-op once done), runs int8 and the default (fp32) model,
# then writes bench/RESULTS.md from the two runs' JSON. The modes that measure the API and the lanes, not the
# model (bulk: a batch of 50,000 lines; flood, fairness: two tenants), take minutes: the int8 run only.
# The fp32 run also runs the peer mode: infinity-emb serving the same fp32 model, installed by hand in a venv
# of its own (bench/README.md), never a dependency; BENCH_PEER=/path/to/infinity_emb (default: on PATH).
# Without it, the mode says the peer is not installed and the run goes on.
export BENCH_PEER
BENCH_MODEL_MODES = $(shell $(BIN)/python -c 'from bench.settings import MODEL_MODES; print(",".join(MODEL_MODES))')
bench: $(STAMP)
	$(BIN)/inference-api models prepare all-MiniLM-L6-v2 all-MiniLM-L6-v2-int8
	$(BIN)/python -m bench --quick --json var/bench.json
	$(BIN)/python -m bench --quick --model all-MiniLM-L6-v2 --modes $(BENCH_MODEL_MODES) --json var/bench-fp32.json
	$(BIN)/python -m bench results var/bench.json var/bench-fp32.json --out bench/RESULTS.md

# The service, its worker and the model exporter (torch CPU), and the Python client: no test or deploy tools.
$(RUN_STAMP): setup.cfg pyproject.toml client/pyproject.toml
	@echo "make: creating $(VENV) and upgrading pip..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "make: installing the service, its worker and the model exporter (torch CPU): about 400 MB of wheels, 1.6 GB installed, about 2 min here plus the download..."
	$(BIN)/python -m pip install --progress-bar on --editable ./client --editable '.[worker,export]'
	touch $@

# Everything `make test` runs: the dev tools (pytest, ruff, tox, schemathesis, mkdocs) and the deploy checks.
$(STAMP): $(RUN_STAMP)
	@echo "make: installing the test and deployment tools (the [dev], [deploy] and [procfile] extras)..."
	$(BIN)/python -m pip install --progress-bar on --editable ./client --editable '.[worker,export,dev,deploy,procfile]'
	touch $@

$(CHECKOV): $(STAMP)
	test -x $(VENV)/checkov/bin/python || $(BIN)/python -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet 'checkov>=3.3,<4'
	touch $@

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .ruff_cache
