# CSV Analyzer: `make run` sets up and serves the app; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export FLASK_APP := wsgi
# uv installs without bytecode; where PYTHONDONTWRITEBYTECODE is set (it is on CI) every
# process would then compile pandas, scikit-learn and MLflow from source: 7.2 s to create the app, 2.4 s with it
export UV_COMPILE_BYTECODE := 1
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEV_STAMP := $(STAMP)-dev

.PHONY: run dev test lint fmt bench fuzz worker mlflow-ui migrate clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

migrate: install ## apply the database migrations and create the MLflow store
	$(BIN)/flask db upgrade
	$(BIN)/flask init-tracking

run: migrate ## set up and serve on http://$(HOST):$(PORT) with the embedded defaults
	HOST=$(HOST) PORT=$(PORT) OMP_NUM_THREADS=1 $(BIN)/gunicorn -c app/gunicorn_conf.py wsgi:app

dev: migrate ## the Flask debug server with reload
	$(BIN)/flask run --debug --host $(HOST) --port $(PORT)

test: install-dev ## the whole suite: unit, functional, integration, browser (+ PostgreSQL when TEST_POSTGRES_URL is set)
	$(BIN)/ruff check --quiet .
	env -u TEST_POSTGRES_URL $(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
	  echo "== the database tests again on PostgreSQL ($$TEST_POSTGRES_URL)"; \
	  $(BIN)/python -m pytest -p no:cacheprovider tests/functional tests/unit/jobs \
	    tests/integration/test_celery_workers.py \
	    tests/integration/test_backup.py::test_postgresql_backup_restores_into_another_database $(PYTEST_ARGS); \
	fi

lint: install-dev
	$(BIN)/ruff check .

fmt: install-dev
	$(BIN)/ruff check --fix .

bench: install-dev ## benchmarks against named references (see bench/README.md)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,bench]'
	# data sets that ship inside these packages (only their files are read)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps \
	  'palmerpenguins>=0.1.6,<0.2' 'ISLP>=0.4,<0.7' 'plotnine>=0.13,<0.16' 'statsmodels>=0.14,<0.16'
	$(BIN)/python -m bench $(BENCH)

fuzz: install-dev ## schemathesis over every API operation with many examples (FUZZ_EXAMPLES, default 200)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -p no:cacheprovider tests/security/test_api_fuzz.py $(PYTEST_ARGS)

# One job at a time per worker by default: a training job uses every core of its machine
# (JOB_THREADS; no OMP_NUM_THREADS=1 here). Scale out with more workers, not more concurrency.
WORKER_CONCURRENCY ?= 1
WORKER_NAME ?= worker@%h
worker: migrate ## a job worker for JOB_BACKEND=celery (scale-out mode; CELERY_BROKER_URL, DATABASE_URL)
	JOB_BACKEND=celery $(BIN)/celery -A app.jobs.celery_app worker --loglevel=INFO \
	  --concurrency $(WORKER_CONCURRENCY) --prefetch-multiplier 1 -O fair \
	  --hostname '$(WORKER_NAME)' --without-gossip

mlflow-ui: install ## the MLflow UI on the instance's tracking store, on loopback
	$(BIN)/mlflow ui --host 127.0.0.1 --port 5000 \
	  --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(abspath $${INSTANCE_DIR:-instance})/mlflow/mlflow.db} \
	  --default-artifact-root $(abspath $${INSTANCE_DIR:-instance})/mlflow/artifacts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
