# The two commands: `make demo` runs the whole pipeline on the embedded sandbox; `make test` runs the suite.
# Both bootstrap everything they need (.venv from the pinned requirements, a PostgreSQL server when
# binaries are present but no server answers, Airflow's SQLite metadata DB under .local/).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTEST_ARGS ?=
CONTACTS ?= 2000
DAYS ?= 120

.PHONY: demo test lint airflow cluster cluster-down venv venv-dev warehouse clean

venv:
	@scripts/bootstrap.sh runtime

venv-dev:
	@scripts/bootstrap.sh dev

warehouse: venv
	@.venv/bin/smarketing db ensure-server
	@.venv/bin/smarketing db upgrade

demo: venv warehouse
	@CONTACTS=$(CONTACTS) DAYS=$(DAYS) scripts/demo.sh

test: venv-dev
	@.venv/bin/smarketing db ensure-server --dsn "$${SMARKETING_TEST_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}"
	@source scripts/airflow-env.sh && export AIRFLOW_HOME="$$PWD/.local/airflow-test" && mkdir -p "$$AIRFLOW_HOME" \
		&& rm -f "$$AIRFLOW_HOME/airflow.db" && airflow db migrate > .local/airflow-test/migrate.log 2>&1 \
		&& python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: venv-dev
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

airflow: venv warehouse
	@scripts/airflow-standalone.sh

# Airflow's production topology as local processes (docs/operations.md): api-server, scheduler,
# dag-processor, triggerer, WORKERS Celery workers; Redis on 127.0.0.1:6379, PostgreSQL metadata DB.
WORKERS ?= 2
cluster: venv warehouse
	@PYTHONPATH="$$PWD/include:$$PWD" .venv/bin/python -m tests.cluster.topology up --workers $(WORKERS) \
		--port "$${AIRFLOW_PORT:-8080}" $(if $(FRESH),--fresh,)

cluster-down:
	@PYTHONPATH="$$PWD/include:$$PWD" .venv/bin/python -m tests.cluster.topology down

clean:
	rm -rf .local
