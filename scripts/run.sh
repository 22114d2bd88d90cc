#!/usr/bin/env bash
# Bring the whole suite up on this machine (what `make run` runs after setup).
#
#   scripts/run.sh
#
# Ensures RabbitMQ, makes var/ (SQLite databases, signing keys), runs the
# migrations, declares exchanges and queues, starts every process in
# deploy/Procfile with honcho, waits for the gateway and the IDMS simulator to
# be healthy, seeds demo data (scripts/seed_demo.py, if present) and prints
# where everything is. Ctrl-C or SIGTERM stops everything.
#
# Env: AMQP_URI, GATEWAY_PORT (8000), IDMS_PORT (8100), <SERVICE>_DATABASE_URL,
#      WPIS_RUN_TIMEOUT seconds to wait for health (default 90).
# A .env file in the repo root is read by honcho for the services.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

GATEWAY_PORT=${GATEWAY_PORT:-8000}
IDMS_PORT=${IDMS_PORT:-8100}
TIMEOUT=${WPIS_RUN_TIMEOUT:-90}
GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT
IDMS_URL=http://127.0.0.1:$IDMS_PORT
HEALTH_URLS=("$GATEWAY_URL/healthz" "$IDMS_URL/health")
BIN=.venv/bin

say() { echo "run: $*"; }
die() {
    echo "run: ERROR: $*" >&2
    exit 1
}

[[ -x $BIN/python ]] || die ".venv is not set up: run 'make setup' (or use 'make run')"
for tool in honcho wpis-keygen wpis-migrate wpis-declare wpis-admin; do
    [[ -x $BIN/$tool ]] || die "$BIN/$tool is missing: run 'make setup' (it comes from the packages in requirements/dev.txt)"
done
[[ -f deploy/Procfile ]] || die "deploy/Procfile is missing"

# HTTP GET answered with 2xx?
http_ok() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
    else
        "$BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' "$1" 2>/dev/null
    fi
}
# shellcheck disable=SC2016 # expanded by the inner bash
port_busy() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# Refuse to start on top of something already listening (a health check
# would then pass against the wrong process).
for p in "$GATEWAY_PORT" "$IDMS_PORT"; do
    port_busy "$p" && die "port $p is already in use (another 'make run'?). Stop it, or set GATEWAY_PORT / IDMS_PORT."
done

bash scripts/ensure_rabbitmq.sh

mkdir -p var
say "signing keys: wpis-keygen var/keys"
"$BIN/wpis-keygen" var/keys
say "migrations: wpis-migrate all"
"$BIN/wpis-migrate" all
say "broker topology: wpis-declare"
"$BIN/wpis-declare"
if [[ -f scripts/seed_demo.py ]]; then
    # DEVELOPMENT ONLY: the first admin with a known password, for the demo accounts.
    say "demo admin account: wpis-admin create-admin --username admin (password demo-admin)"
    WPIS_ADMIN_PASSWORD=demo-admin "$BIN/wpis-admin" create-admin --username admin
fi

HONCHO_PID=""
# shellcheck disable=SC2317 # called from the EXIT trap
stop_honcho() {
    if [[ -n $HONCHO_PID ]] && kill -0 "$HONCHO_PID" 2>/dev/null; then
        say "stopping all processes ..."
        kill -TERM "$HONCHO_PID" 2>/dev/null || true
        wait "$HONCHO_PID" 2>/dev/null || true
    fi
    HONCHO_PID=""
}
trap stop_honcho EXIT
trap 'echo; say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

say "starting processes: honcho -f deploy/Procfile start"
"$BIN/honcho" -f deploy/Procfile start &
HONCHO_PID=$!

say "waiting up to ${TIMEOUT}s for ${HEALTH_URLS[*]} ..."
start=$SECONDS
next=10
for url in "${HEALTH_URLS[@]}"; do
    until http_ok "$url"; do
        kill -0 "$HONCHO_PID" 2>/dev/null || {
            HONCHO_PID=""
            die "honcho exited before $url became healthy (a process failed: see its output above)"
        }
        waited=$((SECONDS - start))
        if ((waited >= TIMEOUT)); then
            die "$url did not become healthy within ${TIMEOUT}s: stopping everything (see the output above)"
        fi
        if ((waited >= next)); then
            say "  still waiting for $url (${waited}s of ${TIMEOUT}s) ..."
            next=$((next + 10))
        fi
        sleep 1
    done
    say "healthy: $url"
done

if [[ -f scripts/seed_demo.py ]]; then
    say "seeding demo data: scripts/seed_demo.py --gateway $GATEWAY_URL"
    "$BIN/python" scripts/seed_demo.py --gateway "$GATEWAY_URL" ||
        say "WARNING: seeding demo data failed (see above); the services keep running"
fi

parse_host() {
    local rest=${1#*://}
    rest=${rest%%/*}
    rest=${rest##*@}
    echo "${rest%%:*}"
}
rabbit_host=$(parse_host "${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}")
rabbit_ui=""
http_ok "http://guest:guest@${rabbit_host:-127.0.0.1}:15672/api/overview" &&
    rabbit_ui="http://${rabbit_host:-127.0.0.1}:15672/ (guest/guest)"

cat <<EOF

======================================================================
 WPIS is up.
   Web console        $GATEWAY_URL/
   Log in (dev only)  officer / demo-officer, employer ararat / demo-ararat
                      (all demo accounts are listed above; docs/security.md)
   HTTP API base      $GATEWAY_URL/api/v1
   Gateway health     $GATEWAY_URL/healthz
   IDMS simulator     $IDMS_URL/  (health: $IDMS_URL/health)
   RabbitMQ admin     ${rabbit_ui:-not available (management plugin off)}
 Try:  curl -s $GATEWAY_URL/healthz
 Press Ctrl-C to stop everything.
======================================================================

EOF

rc=0
wait "$HONCHO_PID" || rc=$?
HONCHO_PID=""
say "honcho exited (rc=$rc)"
exit "$rc"
