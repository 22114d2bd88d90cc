#!/usr/bin/env bash
# Lint and test (what `make test` runs after `make setup`).
#
#   scripts/test.sh [PYTEST_ARGS...]
#
# Ensures RabbitMQ with its management API (nameko's test fixtures create a
# vhost per test), and PostgreSQL when WPIS_TEST_DB=postgresql; then runs
# ruff check, ruff format --check and pytest. Any failure fails the run,
# including pytest collecting no tests (exit 5).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "test: $*"; }
die() { # die MESSAGE [EXIT_CODE]
    echo "test: ERROR: $1" >&2
    exit "${2:-1}"
}

[[ -x .venv/bin/pytest && -x .venv/bin/ruff ]] || die ".venv is not set up: run 'make setup' (or use 'make test')"

bash scripts/ensure_rabbitmq.sh --management
if [[ ${WPIS_TEST_DB:-sqlite} == postgresql ]]; then
    bash scripts/ensure_postgres.sh
    say "database: PostgreSQL (${WPIS_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres})"
else
    say "database: SQLite (set WPIS_TEST_DB=postgresql for PostgreSQL)"
fi

say "ruff check ."
.venv/bin/ruff check . || die "ruff check failed (try 'make fmt')"
say "ruff format --check ."
.venv/bin/ruff format --check . || die "ruff format --check failed: run 'make fmt'"

say "pytest $*"
rc=0
.venv/bin/pytest "$@" || rc=$?
case $rc in
0) say "all tests passed" ;;
5) die "pytest collected no tests (exit 5): that is a failure here" 5 ;;
*) die "pytest failed (exit $rc)" "$rc" ;;
esac
