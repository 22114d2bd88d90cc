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
say "deploy files: kustomize render + Kubernetes schemas, compose spec (scripts/check_deploy.py)"
.venv/bin/python scripts/check_deploy.py || die "deploy/ does not validate (see above)"

# The statistics page's browser test drives Debian's Chromium (never a downloaded
# browser); as root on Debian, install it if missing. Without it that test skips.
if [[ ! -x /usr/bin/chromium && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser test (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/dev/null 2>&1 || say "WARNING: chromium could not be installed; the browser test will skip"
fi

say "pytest $*"
rc=0
.venv/bin/pytest "$@" || rc=$?
case $rc in
0) say "all tests passed" ;;
5) die "pytest collected no tests (exit 5): that is a failure here" 5 ;;
*) die "pytest failed (exit $rc)" "$rc" ;;
esac
