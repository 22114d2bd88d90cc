#!/bin/sh
# Start one WPIS service: the ENTRYPOINT of every service image, and what the
# local test (tests/ops/test_ops_entrypoint.py) runs without Docker.
#
#   entrypoint.sh <service> [wpis-run options...]      e.g. entrypoint.sh permits
#
# 1. waits for the broker and the database (bounded retry: WPIS_WAIT_TIMEOUT
#    seconds, default 60; then exits 1 and the orchestrator restarts it),
# 2. runs the service's own migrations to head (skip with WPIS_MIGRATE=0, e.g.
#    when a separate job migrates),
# 3. replaces itself with the service (exec: SIGTERM reaches it directly and
#    it drains gracefully).
#
# Config comes from env vars through the service's config.yaml: WPIS_CONFIG
# names that file (the images set /app/config.yaml; unset, the one beside the
# package). The tools come from PATH (the image's Python, or a virtualenv's bin/).
set -eu

service=${1:?usage: entrypoint.sh <service> [wpis-run options...]}
shift

if [ -n "${WPIS_CONFIG:-}" ]; then
    set -- --config "$WPIS_CONFIG" "$@"
    config_args="--config $WPIS_CONFIG"
else
    config_args=""
fi

echo "entrypoint: $service: waiting for the broker and the database (${WPIS_WAIT_TIMEOUT:-60}s at most)"
# shellcheck disable=SC2086 # config_args is empty or two words without spaces
python -m wpis_common.preflight "$service" $config_args \
    --timeout "${WPIS_WAIT_TIMEOUT:-60}" --interval "${WPIS_WAIT_INTERVAL:-2}"

if [ "${WPIS_MIGRATE:-1}" = "1" ]; then
    echo "entrypoint: $service: migrating its database to head"
    # shellcheck disable=SC2086
    wpis-migrate "$service" $config_args
fi

echo "entrypoint: $service: starting"
exec wpis-run "$service" "$@"
