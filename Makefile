# Gleaner: the README's commands call these targets. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=
# Two test processes (this is a 2-core budget; most tests wait on real processes). Each file runs whole in
# one process, so module fixtures are shared, in the order tests/conftest.py gives (slow files first);
# PYTEST_WORKERS="-n 0" runs everything in one process.
PYTEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder
# PostgreSQL tests run when a server is given, or when one answers on this machine's default port.
GLEANER_TEST_POSTGRES_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/test)
export GLEANER_TEST_POSTGRES_URL

include mk/*.mk

# Dependencies are installed with their bytecode compiled, and the tests let Python cache our own: the suite starts
# hundreds of Python processes, and where PYTHONDONTWRITEBYTECODE is set each would otherwise compile every module
# it imports from source (a worker's start: 4.2 s against 2.0 s).
# What `make test` installs before running the tests (each target is idempotent and quick when done).
TEST_TOOLS := tools tools-observability tools-web

# `make run`'s ports (the stack checks each before it starts) and extra arguments (ARGS=-v: more logs).
PORT ?= 8000
REDIS_PORT ?= 6380
METRICS_PORT ?= 9100
SAMPLES_PORT ?= 8001
ARGS ?=

.PHONY: help install install-runtime run test test-only lint format typecheck bench all

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

install: ## install uv if missing, then every Python dependency from the lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode

install-runtime: ## only what the services need (no dev or bench group); keeps whatever else is installed
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode --no-default-groups --group local --inexact

run: install-runtime ## run the whole stack locally (PORT, REDIS_PORT, METRICS_PORT, SAMPLES_PORT, ARGS=-v)
	$(UV) run --frozen --no-sync python -m gleaner_api standalone --port $(PORT) --redis-port $(REDIS_PORT) \
		--metrics-port $(METRICS_PORT) --samples-port $(SAMPLES_PORT) $(ARGS)

test: install $(TEST_TOOLS) ## install everything the tests need, then run them all
	PYTHONDONTWRITEBYTECODE= $(UV) run --frozen pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-only: ## run the tests without installing anything first
	PYTHONDONTWRITEBYTECODE= $(UV) run --frozen pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install ## ruff (lint + format check) and mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs services tests bench

format: install ## apply ruff's formatting and safe fixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

typecheck: install ## mypy alone
	$(UV) run --frozen mypy libs services tests bench

# The benchmarks' default runs (each folder's RESULTS.md has the figures and the variants).
BENCHES := worker parsing ai notion autoscaling api
BENCH_worker := python -m bench.worker.run --rounds 3
BENCH_parsing := python bench/parsing/run.py --repeats 4 --workers 1 2 --concurrency 4 --skip-variants
BENCH_ai := python bench/ai/run.py --items 200 --rounds 5
BENCH_notion := python -m bench.notion.bench_notion
BENCH_api := python -m bench.api.run --rounds 2
BENCH_autoscaling := python -m bench.autoscaling.simulate --out bench/autoscaling
BENCH ?=

bench: install ## list the benchmarks; BENCH=<name> runs one (BENCH=all: every one, minutes each)
ifeq ($(BENCH),)
	@echo "Benchmarks (run one with make bench BENCH=<name>; results in bench/<name>/RESULTS.md):"
	@$(foreach b,$(BENCHES),printf '  %-12s %s\n' $(b) '$(BENCH_$(b))';)
else
	@$(foreach b,$(if $(filter all,$(BENCH)),$(BENCHES),$(BENCH)),\
		$(if $(BENCH_$(b)),,echo "unknown benchmark $(b): one of $(BENCHES)" && exit 2;) \
		echo "== bench/$(b): $(BENCH_$(b))" && $(UV) run --frozen $(BENCH_$(b)) || exit 1;)
endif

all: lint test ## lint, then test
