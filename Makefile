SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
export DAGSTER_HOME := $(CURDIR)/.dagster
UV := uv
RUN := $(UV) run --frozen

.PHONY: help install demo dev test lint format clean

help:  ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

install: $(DAGSTER_HOME)/dagster.yaml  ## create .venv from uv.lock and prepare the dbt manifest
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen

demo: install  ## materialize every asset on the sample source and print where results are
	$(RUN) python -m acct445_assets.cli demo

dev: install  ## open the Dagster UI (webserver + daemon) on http://127.0.0.1:3000
	$(RUN) dagster dev -m acct445_assets.definitions -h 127.0.0.1 -p 3000

test: install  ## the whole test suite (unit, dbt, integration)
	$(RUN) pytest -q -p no:cacheprovider

lint:  ## ruff
	$(RUN) ruff check acct445_assets acct445_assets_tests
	$(RUN) ruff format --check acct445_assets acct445_assets_tests

format:
	$(RUN) ruff check --fix acct445_assets acct445_assets_tests
	$(RUN) ruff format acct445_assets acct445_assets_tests

clean:  ## remove generated data, Dagster storage and build artefacts (not results/)
	rm -rf data .dagster .pytest_cache .ruff_cache acct445_assets/dbt_project/target acct445_assets/dbt_project/logs
