# Gleaner: the README's commands call these targets. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=
# PostgreSQL tests run when a server is given, or when one answers on this machine's default port.
GLEANER_TEST_POSTGRES_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/test)
export GLEANER_TEST_POSTGRES_URL

include mk/*.mk

# What `make test` installs before running the tests (each target is idempotent and quick when done).
TEST_TOOLS := tools tools-observability tools-web

.PHONY: help install run test test-only lint format typecheck bench all

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

install: ## install uv if missing, then every Python dependency from the lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

run: install ## run the whole stack locally: API + web page, one worker per stage, Redis if REDIS_URL is unset
	$(UV) run --frozen python -m gleaner_api standalone

test: install $(TEST_TOOLS) ## install everything the tests need, then run them all
	$(UV) run --frozen pytest $(PYTEST_ARGS)

test-only: ## run the tests without installing anything first
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: install ## ruff (lint + format check) and mypy
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs services tests bench

format: install ## apply ruff's formatting and safe fixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

typecheck: install ## mypy alone
	$(UV) run --frozen mypy libs services tests bench

all: lint test ## lint, then test
