# Railcast: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export RAILCAST_HOME ?= $(CURDIR)/.railcast
PY := .venv/bin/python
# make demo STACK=production: the demo on the production deployment (railcast stack)
STACK ?= embedded

.PHONY: help setup test test-quick demo bench bench-policies repro lint audit airflow mlflow serve stack stack-down tools clean

help: ## Show this help
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet uv
	@UV=$$(command -v uv || echo $(HOME)/.local/bin/uv); $$UV sync --frozen --python python3.11
	@touch $@

setup: .venv/.synced ## Create the environment from uv.lock (installs uv with pip if missing)

test: setup ## Run the whole test suite, Airflow end to end included (what CI runs; ~30 min on 2 cores)
	$(PY) -m pytest -q --durations=15 tests

test-quick: setup ## The suite without the slow tests (Airflow scheduler, backfill, e2e, demo; ~5 min)
	$(PY) -m pytest -q -m "not slow" tests

lint: setup ## Ruff over the code (Airflow's AIR rules included); CI runs it before the tests
	.venv/bin/ruff check pipelines dags tests benchmarks

audit: setup ## Check uv.lock against known vulnerabilities (pip-audit); says so when it cannot reach the advisories
	$(PY) -m pipelines.ops.audit

bench: setup ## Run the benchmarks; JSON results land in benchmarks/results/
	$(PY) -m benchmarks

bench-policies: setup ## Only the retraining-policy matrix (about an hour on 2 cores; RAILCAST_BENCH_* narrow it)
	$(PY) -m benchmarks policies

repro: setup ## dvc repro with the project's environment first on PATH (DVC stages call `python`)
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/dvc repro

demo: setup ## Run the closed loop on the simulator (see README; STACK=production for the production deployment)
	$(PY) -m pipelines demo --stack $(STACK)

airflow: setup ## Start Airflow standalone on 127.0.0.1:8080 (Ctrl-C stops it)
	$(PY) -m pipelines airflow

stack: setup ## Start the production deployment here (PostgreSQL + Redis needed; see docs/AIRFLOW.md)
	$(PY) -m pipelines stack up

stack-down: setup ## Stop everything `make stack` started
	$(PY) -m pipelines stack down

tools: ## Install Debian's Chromium (UI login test) and Prometheus (scrape test), root or sudo
	@missing=""; for tool in chromium prometheus; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	@chromium --version 2>/dev/null; prometheus --version 2>&1 | head -1

mlflow: setup ## Open the MLflow UI on 127.0.0.1:5000
	$(PY) -m pipelines mlflow-ui

serve: setup ## The prediction API over the champion on 127.0.0.1:8000 (see docs/SERVING.md)
	$(PY) -m pipelines serve

clean: ## Remove runtime state under RAILCAST_HOME (asks no questions)
	rm -rf "$(RAILCAST_HOME)"
