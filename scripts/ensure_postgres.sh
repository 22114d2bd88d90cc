#!/usr/bin/env bash
# Make sure the PostgreSQL server the tests use is reachable; start the local
# Debian cluster if it is not.
#
#   scripts/ensure_postgres.sh
#
# Env: WPIS_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
#      WPIS_PG_TIMEOUT seconds to wait for a start (default 30).
# Exits non-zero if the server is still unreachable. Never stops a server.
set -euo pipefail

PG_URL=${WPIS_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
TIMEOUT=${WPIS_PG_TIMEOUT:-30}

say() { echo "ensure_postgres: $*"; }
die() {
    echo "ensure_postgres: ERROR: $*" >&2
    exit 1
}

case ${1:-} in
"") ;;
-h | --help)
    sed -n '2,9p' "$0"
    exit 0
    ;;
*) die "unknown argument: $1" ;;
esac

# host/port from scheme://[user[:pass]@]host[:port]/db
rest=${PG_URL#*://}
rest=${rest%%/*}
rest=${rest%%\?*}
hostport=${rest##*@}
if [[ $hostport == \[* ]]; then
    HOST=${hostport%%]*}
    HOST=${HOST#[}
    PORT=${hostport#*]}
    PORT=${PORT#:}
else
    HOST=${hostport%%:*}
    PORT=""
    [[ $hostport == *:* ]] && PORT=${hostport##*:}
fi
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5432}

reachable() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT" -t 3
    else
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$HOST" "$PORT" 2>/dev/null
    fi
}

if reachable; then
    say "PostgreSQL is reachable at $HOST:$PORT"
    exit 0
fi
say "PostgreSQL does not answer at $HOST:$PORT"

case $HOST in
localhost | 127.* | ::1) ;;
*) die "$HOST is not local, so it cannot be started from here: start it, or set WPIS_TEST_PG_URL to a reachable server" ;;
esac

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
    die "no local PostgreSQL cluster to start (pg_ctlcluster not found).
  Install one (Debian/Ubuntu: apt-get install postgresql), or set
  WPIS_TEST_PG_URL=postgresql+psycopg://USER@HOST:PORT/DB to a running server."
fi

for version in /etc/postgresql/*/; do
    version=$(basename "$version")
    [[ -d /etc/postgresql/$version/main ]] || continue
    say "starting it: pg_ctlcluster --skip-systemctl-redirect $version main start"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
        say "WARNING: pg_ctlcluster $version main start failed (not root? try with sudo)"
done

say "waiting up to ${TIMEOUT}s for $HOST:$PORT ..."
start=$SECONDS
until reachable; do
    if ((SECONDS - start >= TIMEOUT)); then
        die "PostgreSQL still does not answer at $HOST:$PORT after ${TIMEOUT}s (see /var/log/postgresql/)"
    fi
    sleep 1
done
say "PostgreSQL is up at $HOST:$PORT"
