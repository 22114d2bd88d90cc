#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers at AMQP_URI; start (or install) a local
# one if not.
#
#   scripts/ensure_rabbitmq.sh [--management] [--no-install]
#
#   --management   also make sure the management HTTP API answers (the tests
#                  need it: nameko's fixtures create a vhost per test). Its
#                  URL is RABBIT_API_URI, default http://guest:guest@<host>:15672
#   --no-install   never apt-get install rabbitmq-server (also WPIS_NO_INSTALL=1)
#
# Env: AMQP_URI (default amqp://guest:guest@127.0.0.1:5672/),
#      WPIS_RABBIT_TIMEOUT seconds to wait for a start (default 60).
# Does nothing when the broker is already up. Never stops a broker.
set -euo pipefail

AMQP_URI=${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}
TIMEOUT=${WPIS_RABBIT_TIMEOUT:-60}
want_management=0
no_install=${WPIS_NO_INSTALL:-0}
[[ $no_install == 1 || $no_install == true ]] && no_install=1 || no_install=0

say() { echo "ensure_rabbitmq: $*"; }
die() {
    echo "ensure_rabbitmq: ERROR: $*" >&2
    exit 1
}

for arg in "$@"; do
    case $arg in
    --management) want_management=1 ;;
    --no-install) no_install=1 ;;
    -h | --help)
        sed -n '2,15p' "$0"
        exit 0
        ;;
    *) die "unknown argument: $arg (see --help)" ;;
    esac
done

# --- parse a URI into U_HOST / U_PORT (scheme://[user[:pass]@]host[:port][/...]) ---
parse_uri() {
    local rest=${1#*://} hostport
    rest=${rest%%/*}
    rest=${rest%%\?*}
    hostport=${rest##*@}
    if [[ $hostport == \[* ]]; then # [ipv6]:port
        U_HOST=${hostport%%]*}
        U_HOST=${U_HOST#[}
        U_PORT=${hostport#*]}
        U_PORT=${U_PORT#:}
    else
        U_HOST=${hostport%%:*}
        U_PORT=""
        [[ $hostport == *:* ]] && U_PORT=${hostport##*:}
    fi
    U_HOST=${U_HOST:-127.0.0.1}
    U_PORT=${U_PORT:-$2}
}

# Hide the password in a URI for printing.
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# shellcheck disable=SC2016 # expanded by the inner bash
tcp_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

is_local() {
    case $1 in
    localhost | 127.* | ::1 | 0.0.0.0 | "$(hostname 2>/dev/null)") return 0 ;;
    *) return 1 ;;
    esac
}

# HTTP status of a GET (000 if nothing answers). Credentials may be in the URL.
http_status() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
    else
        python3 - "$1" <<'PY' 2>/dev/null || echo 000
import base64, sys, urllib.error, urllib.parse, urllib.request
u = urllib.parse.urlsplit(sys.argv[1])
host = u.hostname if ":" not in (u.hostname or "") else f"[{u.hostname}]"
url = urllib.parse.urlunsplit((u.scheme, f"{host}:{u.port}" if u.port else host, u.path, u.query, ""))
req = urllib.request.Request(url)
if u.username is not None:
    cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
    req.add_header("Authorization", "Basic " + base64.b64encode(cred.encode()).decode())
try:
    print(urllib.request.urlopen(req, timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
    fi
}

# Run a rabbitmq admin command (they live in /usr/sbin, maybe not on PATH).
rabbit_cmd() {
    local cmd=$1
    shift
    if command -v "$cmd" >/dev/null 2>&1; then
        "$cmd" "$@"
    elif [[ -x /usr/sbin/$cmd ]]; then
        "/usr/sbin/$cmd" "$@"
    else
        return 127
    fi
}
have_rabbit_cmd() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }

# wait_for DESCRIPTION CHECK_COMMAND...: poll every second up to $TIMEOUT s.
wait_for() {
    local what=$1 start=$SECONDS next=5
    shift
    while ! "$@"; do
        local waited=$((SECONDS - start))
        if ((waited >= TIMEOUT)); then
            return 1
        fi
        if ((waited >= next)); then
            say "  still waiting for $what (${waited}s of ${TIMEOUT}s) ..."
            next=$((next + 5))
        fi
        sleep 1
    done
}

parse_uri "$AMQP_URI" 5672
HOST=$U_HOST
PORT=$U_PORT

# --- 1. the AMQP port ---
if tcp_open "$HOST" "$PORT"; then
    say "RabbitMQ is reachable at $HOST:$PORT"
else
    say "nothing answers at $HOST:$PORT ($(redact "$AMQP_URI"))"
    is_local "$HOST" || die "the broker at $HOST:$PORT is not local, so it cannot be started from here.
  Start that broker, or point AMQP_URI at a reachable one (e.g. AMQP_URI=amqp://guest:guest@127.0.0.1:5672/)."

    if ! have_rabbit_cmd rabbitmq-server; then
        if ((no_install)); then
            die "rabbitmq-server is not installed and installing was disabled (--no-install / WPIS_NO_INSTALL=1).
  Install it (Debian/Ubuntu: apt-get install rabbitmq-server) or set AMQP_URI to a running broker."
        elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            say "rabbitmq-server is not installed: installing it with apt-get (as root${CI:+, CI=$CI}) ..."
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q || die "apt-get update failed"
            apt-get install -y -q rabbitmq-server || die "apt-get install rabbitmq-server failed"
            say "rabbitmq-server installed"
        else
            die "RabbitMQ is not running and rabbitmq-server is not installed.
  Install it: sudo apt-get install rabbitmq-server   (or: docker run -d -p 5672:5672 -p 15672:15672 rabbitmq:3.13-management)
  or set AMQP_URI to a running broker, then try again."
        fi
    fi

    # A local node that runs but does not listen where AMQP_URI says will not
    # be fixed by starting another one.
    if have_rabbit_cmd rabbitmq-diagnostics && rabbit_cmd rabbitmq-diagnostics -q ping -t 5 >/dev/null 2>&1 &&
        ! tcp_open "$HOST" "$PORT"; then
        die "a local RabbitMQ node is running but does not accept connections at $HOST:$PORT.
  Check AMQP_URI (host, port, IPv4/IPv6) against the node's listeners: rabbitmq-diagnostics listeners"
    fi

    # The package's post-install may already have started it.
    if ! tcp_open "$HOST" "$PORT"; then
        [[ $PORT == 5672 ]] || say "WARNING: a default local broker listens on 5672, but AMQP_URI asks for port $PORT"
        say "starting it: rabbitmq-server -detached"
        if ! rabbit_cmd rabbitmq-server -detached; then
            if [[ $(id -u) -ne 0 ]]; then
                die "could not start rabbitmq-server as $(id -un): try 'sudo rabbitmq-server -detached', or set AMQP_URI to a running broker"
            fi
            say "WARNING: 'rabbitmq-server -detached' returned an error (it may be starting already); waiting anyway"
        fi
    fi

    say "waiting up to ${TIMEOUT}s for $HOST:$PORT ..."
    wait_for "$HOST:$PORT" tcp_open "$HOST" "$PORT" ||
        die "RabbitMQ did not open $HOST:$PORT within ${TIMEOUT}s. See its log under /var/log/rabbitmq/."
    say "RabbitMQ is up at $HOST:$PORT"
fi

# --- 2. the management API (only with --management) ---
if ((want_management)); then
    api=${RABBIT_API_URI:-http://guest:guest@$HOST:15672}
    api=${api%/}
    api=${api%/api}
    overview="$api/api/overview"
    api_ok() { [[ $(http_status "$overview") == 200 ]]; }

    code=$(http_status "$overview")
    if [[ $code == 200 ]]; then
        say "management API answers at $(redact "$api")"
    elif [[ $code == 401 || $code == 403 ]]; then
        die "management API at $(redact "$api") refused the credentials (HTTP $code).
  Set RABBIT_API_URI=http://USER:PASS@HOST:15672 with an administrator user (tests create vhosts)."
    else
        say "management API does not answer at $(redact "$api") (HTTP $code)"
        parse_uri "$api" 15672
        is_local "$U_HOST" || die "the management API host $U_HOST is not local: enable the rabbitmq_management plugin on that broker, or set RABBIT_API_URI"
        have_rabbit_cmd rabbitmq-plugins || die "rabbitmq-plugins not found: enable the management plugin on the broker (rabbitmq-plugins enable rabbitmq_management)"
        say "enabling it: rabbitmq-plugins enable rabbitmq_management"
        rabbit_cmd rabbitmq-plugins enable rabbitmq_management ||
            die "'rabbitmq-plugins enable rabbitmq_management' failed (run it as root: sudo rabbitmq-plugins enable rabbitmq_management)"
        say "waiting up to ${TIMEOUT}s for the management API ..."
        wait_for "the management API" api_ok ||
            die "the management API did not answer at $(redact "$overview") within ${TIMEOUT}s (HTTP $(http_status "$overview"))"
        say "management API answers at $(redact "$api")"
    fi
fi
