# WPIS developer commands (GNU make). `make` alone lists them.
# Quick start:  make run   (everything on this machine)
#               make test  (lint + tests)

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup run test test-pg lint fmt migrate bench bench-ingest bench-verify clean distclean events-docs openapi

help: ## list the targets
	@echo "WPIS make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'
	@echo "Variables: PYTEST_ARGS='...' (make test), BENCH_ARGS='...' (make bench*)"

setup: ## create/update .venv (fast when nothing changed)
	@bash scripts/bootstrap.sh

run: setup ## start RabbitMQ (if needed), migrate, run every service; Ctrl-C stops
	@bash scripts/run.sh

test: setup ## ruff + pytest (SQLite); extra pytest args via PYTEST_ARGS
	@bash scripts/test.sh $(PYTEST_ARGS)

test-pg: ## the same tests against PostgreSQL
	@WPIS_TEST_DB=postgresql $(MAKE) --no-print-directory test

lint: setup ## ruff check + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup ## ruff format + ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: setup ## run every service's migrations to head
	@mkdir -p var
	$(BIN)/wpis-migrate all

.PHONY: admin
admin: setup ## create the first admin account (USERNAME=admin; password from WPIS_ADMIN_PASSWORD or a prompt)
	@mkdir -p var
	$(BIN)/wpis-migrate gateway
	$(BIN)/wpis-admin create-admin --username $(or $(USERNAME),admin)

.PHONY: keys
keys: setup ## a development attestation key pair in var/keys (kept if it exists; see docs/identity.md)
	$(BIN)/wpis-keygen var/keys

bench: setup ## run bench/flow.py: flows/s against the baseline chain (BENCH_ARGS passes arguments)
	$(BIN)/python bench/flow.py $(BENCH_ARGS)

bench-ingest: setup ## run bench/ingest.py: applications/s accepted and the backlog's drain
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)

bench-verify: setup ## run bench/verify.py --http: public verification lookups/s at 1,000,000 permits
	$(BIN)/python bench/verify.py --http --backend sqlite $(BENCH_ARGS)

openapi: setup ## regenerate the gateway's OpenAPI document (services/gateway/gateway/static/openapi.json)
	$(BIN)/python scripts/gen_openapi.py

events-docs: setup ## regenerate docs/events/ (JSON Schemas, AsyncAPI) from the event schemas
	$(BIN)/python scripts/gen_event_docs.py

clean: ## remove var/ (databases, keys) and caches; keeps .venv
	rm -rf var .pytest_cache .ruff_cache .hypothesis build dist
	find . \( -path ./$(VENV) -o -path ./.git \) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)
