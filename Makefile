# The two commands: `make demo` runs the whole pipeline on the embedded sandbox; `make test` runs the suite.
# Both bootstrap everything they need (.venv from the pinned requirements, a PostgreSQL server when
# binaries are present but no server answers, Airflow's SQLite metadata DB under .local/).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTEST_ARGS ?=
CONTACTS ?= 2000
DAYS ?= 120

.PHONY: demo test lint airflow venv venv-dev warehouse clean

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

clean:
	rm -rf .local
