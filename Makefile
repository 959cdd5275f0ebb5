# telco360 — every entry point for people. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin

# all state under one folder (nothing in $HOME)
export TELCO360_HOME ?= $(CURDIR)/var
export AIRFLOW_HOME := $(TELCO360_HOME)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM := 4
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG := 4
export AIRFLOW__API__PORT ?= 8080
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export MLFLOW_TRACKING_URI ?= sqlite:///$(TELCO360_HOME)/mlflow/mlflow.db
export UV_CACHE_DIR := $(CURDIR)/.cache/uv
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export UV_PYTHON := $(PYTHON)
export MPLCONFIGDIR := $(TELCO360_HOME)/cache/matplotlib
export XDG_CACHE_HOME := $(CURDIR)/.cache
export AIRFLOW__COSMOS__CACHE_DIR := $(CURDIR)/.cache/cosmos
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export DO_NOT_TRACK := 1

# which warehouse: TELCO360_WAREHOUSE=duckdb (default, the embedded file) or postgres; WAREHOUSE=... for one target

# demo size (make run SUBSCRIBERS=1000000 for an operator-sized run)
SUBSCRIBERS ?= 20000
MONTHS ?= 3
START ?= 2026-01
SEED ?= 42

.PHONY: help install run test test-fast test-e2e screenshots docs-serve lint format airflow-init airflow airflow-down pg-up pg-down status bench bench-build bench-dag docs build clean quality audit bench-quality mlflow bench-models

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	@touch $@

# the web assets GX's Data Docs would load from CDNs, fetched from npm (locked, hashes checked): docs work offline
vendor/web-assets/.fetched: infra/web_assets.py infra/web_assets.lock.json
	$(PYTHON) infra/web_assets.py fetch -q
	@touch $@

install: $(VENV)/.synced vendor/web-assets/.fetched ## create .venv from the lock file (uv) and fetch the Data Docs' web assets

airflow-init: install ## migrate Airflow's metadata DB (under var/airflow) and create the writer pool
	@mkdir -p $(AIRFLOW_HOME)
	@$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || (tail -30 $(AIRFLOW_HOME)/migrate.log; exit 1)
	@$(BIN)/airflow pools set warehouse_writer 1 "one writer at a time on the embedded warehouse" > /dev/null
	@$(BIN)/telco360 build --parse-only > /dev/null

run: install ## generate the demo operator, start Airflow (make airflow) and run ingest -> build and gate -> train -> score through its scheduler
	$(BIN)/telco360 generate --subscribers $(SUBSCRIBERS) --months $(MONTHS) --start $(START) --seed $(SEED) -q
	@$(BIN)/telco360 airflow up
	@$(BIN)/telco360 airflow pipeline
	@echo
	@$(BIN)/telco360 status
	@echo
	@$(BIN)/telco360 marts
	@echo
	@$(BIN)/telco360 quality
	@echo
	@echo
	@$(BIN)/telco360 models report
	@echo
	@echo "landing: $(TELCO360_HOME)/landing (planted truth in _truth/)   warehouse: $(TELCO360_HOME)/warehouse.duckdb"
	@echo "Airflow keeps running: http://127.0.0.1:$(AIRFLOW__API__PORT) (user admin, password in $(AIRFLOW_HOME)/passwords.json); make airflow-down stops it"
	@echo "MLflow UI (runs, plots, registry): make mlflow   dbt docs and GX Data Docs: make docs"

status: install ## what the warehouse holds now
	@$(BIN)/telco360 status

test: install pg-up ## the whole suite: ruff, then pytest (PostgreSQL tests on the private server)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests --processes 2 --disable-progress-bar --nocolor
	source $(TELCO360_HOME)/pg/env && $(BIN)/pytest -n 2

test-e2e: install ## the people's tools in headless Chromium (Debian's chromium): Data Docs, dbt docs, MLflow, Airflow
	$(BIN)/pytest tests/e2e -m e2e

screenshots: install ## the e2e run, saving its screenshots into docs/screenshots (shown in the README)
	TELCO360_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest tests/e2e -m e2e

test-fast: install ## the unit layer only (no warehouse, no server): about a minute
	$(BIN)/pytest -q -m unit

lint: install ## ruff and sqlfluff
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros dbt_project/tests --processes 2 --disable-progress-bar --nocolor

format: install ## apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

pg-up: ## start a private PostgreSQL server under var/pg (installs Debian's postgresql if missing)
	@bash infra/pg.sh up

pg-down: ## stop it
	@bash infra/pg.sh down

airflow: install ## start Airflow (UI on http://127.0.0.1:8080, scheduler, dag-processor, triggerer) in the background, behind a login
	@$(BIN)/telco360 airflow up

airflow-down: install ## stop what `make airflow` started
	@$(BIN)/telco360 airflow down

mlflow: install ## the MLflow UI on http://127.0.0.1:5000: experiments, runs side by side, the registry (Ctrl-C stops)
	@mkdir -p $(TELCO360_HOME)/mlflow
	$(BIN)/mlflow server --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port $${MLFLOW_PORT:-5000} --workers 1

bench: install ## loader benchmark: 1M subscribers x 1 month (BENCH_SUBSCRIBERS to change)
	$(BIN)/python bench/bench_ingest.py --subscribers $${BENCH_SUBSCRIBERS:-1000000}

bench-build: install pg-up ## warehouse build benchmark: 1M subscribers x 3 months, DuckDB and PostgreSQL
	source $(TELCO360_HOME)/pg/env && $(BIN)/python bench/bench_build.py --subscribers $${BENCH_SUBSCRIBERS:-1000000}

bench-dag: install ## build_warehouse DAG under the real scheduler / bare `telco360 build`, same data: 20k x 3 months (BENCH_SUBSCRIBERS)
	$(BIN)/python bench/bench_dag.py --subscribers $${BENCH_SUBSCRIBERS:-20000}

bench-models: install ## models benchmark: 1M subscribers x 4 months (training, scoring ratio, peak memory)
	$(BIN)/python bench/bench_models.py --subscribers $${BENCH_SUBSCRIBERS:-1000000}

quality: install ## the latest data-quality run on one screen (results: audit.dq_results)
	@$(BIN)/telco360 quality

audit: install ## validate with Great Expectations and publish the marts if no critical check fails (WAREHOUSE=duckdb|postgres)
	$(BIN)/telco360 audit $(if $(WAREHOUSE),--warehouse $(WAREHOUSE)) --publish

bench-quality: install ## GX validation of the marts vs plain SQL: 1M subscribers (from bench-build) and 20k
	$(BIN)/python bench/bench_quality.py

docs: install ## build dbt docs and print where they and the GX Data Docs (data-quality results) are
	@$(BIN)/telco360 docs

docs-serve: install ## serve the dbt docs (after make docs) on http://127.0.0.1:8081, this machine only (Ctrl-C stops)
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory $(TELCO360_HOME)/dbt/target-$${WAREHOUSE:-duckdb} $${DOCS_PORT:-8081}

build: install ## build the warehouse with dbt outside Airflow (WAREHOUSE=duckdb|postgres, FULL_REFRESH=1)
	$(BIN)/telco360 build $(if $(WAREHOUSE),--warehouse $(WAREHOUSE)) $${FULL_REFRESH:+--full-refresh}

clean: ## remove generated state (var/), keep the environment
	-bash infra/pg.sh down 2>/dev/null
	rm -rf $(TELCO360_HOME)
