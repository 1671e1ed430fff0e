SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
export DAGSTER_HOME := $(CURDIR)/.dagster
# One "planned" event per asset for a single-run backfill instead of one per partition
# (10 years of sessions = 2,500 fsync'd SQLite writes before the run starts).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS := 1
UV := uv
RUN := $(UV) run --frozen

.PHONY: help install demo dev system-deps dvc-tool test-deps test lint format clean reproduce

help:  ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

install: $(DAGSTER_HOME)/dagster.yaml  ## create .venv from uv.lock (runtime packages only), the NYSE session table and the dbt manifest
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet --root-user-action=ignore uv 2>/dev/null \
		|| python3 -m pip install --quiet --root-user-action=ignore --break-system-packages uv
	@echo "install: .venv from uv.lock, NYSE sessions, dbt manifest"
	@# --inexact: a later install does not remove the test packages `make test` added.
	@# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as here and in CI) every process
	@# would otherwise compile Dagster, dbt and pandas from source, about 8 s per CLI call.
	@$(UV) sync --frozen --no-dev --inexact --quiet --compile-bytecode
	@$(UV) run --frozen --no-dev python -m compileall -q acct445_assets acct445_assets_bench >/dev/null
	@$(UV) run --frozen --no-dev python -m acct445_assets.calendar >/dev/null
	@mkdir -p data/logs
	@$(UV) run --frozen --no-dev dagster-dbt project prepare-and-package \
		--file acct445_assets/assets/warehouse.py >data/logs/dbt-prepare.log 2>&1 \
		|| { cat data/logs/dbt-prepare.log >&2; exit 1; }

demo: install  ## materialize every asset on the sample source; prints stages, progress and a summary
	@$(UV) run --frozen --no-dev python -m acct445_assets.cli demo $(DEMO_ARGS)

dev: install  ## open the Dagster UI (webserver + daemon) on http://127.0.0.1:3000
	$(UV) run --frozen --no-dev dagster dev -m acct445_assets.definitions -h 127.0.0.1 -p 3000

system-deps:  ## install the system packages the integration tests need (nginx, chromium, postgres)
	@bash .ci/system-deps.sh

# DVC is its own uv tool: its dependencies would break Dagster's selection parser.
dvc-tool:
	@command -v dvc >/dev/null || $(UV) tool install --quiet dvc

test-deps: install dvc-tool
	@$(UV) sync --frozen --inexact --quiet --compile-bytecode

# System packages first: without them the integration tests would fail after the rest ran.
# pytest's exit code 5 (nothing collected, e.g. a PYTEST_ARGS filter matching no test) fails.
test: system-deps test-deps  ## the whole test suite (unit, dbt, integration); PYTEST_ARGS=... to narrow
	@$(RUN) pytest -q -p no:cacheprovider $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "make test: pytest collected no tests (PYTEST_ARGS=$(PYTEST_ARGS))" >&2; fi; \
	exit $$code

lint:  ## ruff
	$(RUN) ruff check acct445_assets acct445_assets_tests
	$(RUN) ruff format --check acct445_assets acct445_assets_tests

format:
	$(RUN) ruff check --fix acct445_assets acct445_assets_tests
	$(RUN) ruff format acct445_assets acct445_assets_tests

reproduce: install dvc-tool  ## regenerate results/ with DVC (dvc repro: only stages whose inputs changed)
	DVC_NO_ANALYTICS=1 dvc repro

clean:  ## remove generated data, Dagster storage and build artefacts (not results/)
	rm -rf data .dagster .pytest_cache .ruff_cache acct445_assets/dbt_project/target acct445_assets/dbt_project/logs

# ---- operations (issue 6): the image, the compose stack, the proxy logins ---------------
IMAGE ?= acct445-assets:latest
IMAGE_MAX_MB ?= 700
COMPOSE ?= docker compose
DOCKER_SOCKET ?= /var/run/docker.sock
.PHONY: credentials docker-build docker-size up down docker-test

credentials:  ## create the UI logins (bcrypt htpasswd), the session key and the database password in deploy/secrets/ (0600)
	$(RUN) python scripts/credentials.py --output deploy/secrets

docker-build:  ## build the project image (classic builder, from uv.lock)
	DOCKER_BUILDKIT=0 docker build -t $(IMAGE) .

docker-size:  ## print the image size; fails above IMAGE_MAX_MB
	@bytes=$$(docker image inspect -f '{{.Size}}' $(IMAGE)); mb=$$((bytes / 1000000)); \
	echo "$(IMAGE): $$mb MB (limit $(IMAGE_MAX_MB) MB)"; test $$mb -lt $(IMAGE_MAX_MB)

up:  ## start the stack behind the auth proxy (after credentials and docker-build)
	@test -s deploy/secrets/htpasswd/viewers.htpasswd -a -s deploy/secrets/htpasswd/operators.htpasswd \
		-a -s deploy/secrets/postgres.env || { echo "no logins yet: run 'make credentials' first" >&2; exit 1; }
	DOCKER_SOCKET=$(DOCKER_SOCKET) DOCKER_GID=$$(stat -c %g $(DOCKER_SOCKET)) $(COMPOSE) up -d --wait
	@echo "UI: http://127.0.0.1:$${PROXY_PORT:-8080}/ (viewers)  http://127.0.0.1:$${PROXY_PORT:-8080}/operator/ (operators)"

down:  ## stop the stack (volumes are kept)
	$(COMPOSE) down

docker-test:  ## image + compose checks on a private dockerd with stand-in base images (needs root)
	bash deploy/docker-test.sh

.PHONY: bench
STAGES ?= estimators,cnoi,orchestrated,peers
bench: install  ## performance benchmark at scale (STAGES=estimators,cnoi,orchestrated,peers BENCH_ARGS=...)
	$(RUN) python -m acct445_assets_bench.run --stages $(STAGES) $(BENCH_ARGS)
