#!/usr/bin/env bash
# Create or update the project virtualenv at .venv (what `make setup` runs).
#
#   scripts/bootstrap.sh          install/refresh only if something changed
#   scripts/bootstrap.sh --force  reinstall everything
#
# Installs `pip install -c requirements/constraints.txt -r requirements/dev.txt`
# into .venv (Python 3.11+). A stamp file inside .venv records the last good
# install; it is redone when constraints.txt, dev.txt or any package's
# pyproject.toml is newer than the stamp. Env: PYTHON=/path/to/python3.11
# picks the interpreter.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
STAMP=$VENV/.wpis-setup.stamp
CONSTRAINTS=requirements/constraints.txt
DEV=requirements/dev.txt

say() { echo "bootstrap: $*"; }
die() {
    echo "bootstrap: ERROR: $*" >&2
    exit 1
}

force=0
for arg in "$@"; do
    case $arg in
    --force) force=1 ;;
    -h | --help)
        sed -n '2,11p' "$0"
        exit 0
        ;;
    *) die "unknown argument: $arg" ;;
    esac
done

[[ -f $CONSTRAINTS ]] || die "$CONSTRAINTS is missing"
[[ -f $DEV ]] || die "$DEV is missing"

# Everything whose change means "reinstall".
inputs=("$CONSTRAINTS" "$DEV")
for f in pyproject.toml libs/pyproject.toml services/*/pyproject.toml simulators/*/pyproject.toml; do
    [[ -f $f ]] && inputs+=("$f")
done

is_py311() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

# Fast path: venv works and the stamp is newer than every input.
if ((!force)) && [[ -f $STAMP ]] && [[ -x $VENV/bin/python ]] && is_py311 "$VENV/bin/python"; then
    stale=""
    for f in "${inputs[@]}"; do
        if [[ $f -nt $STAMP ]]; then
            stale=$f
            break
        fi
    done
    if [[ -z $stale ]]; then
        say ".venv is up to date (nothing changed since the last install)"
        exit 0
    fi
    say "$stale changed since the last install: updating .venv"
fi

# Find Python 3.11+.
find_python() {
    local cand
    for cand in ${PYTHON:-} python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 && is_py311 "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

if [[ ! -x $VENV/bin/python ]] || ! is_py311 "$VENV/bin/python"; then
    PY=$(find_python) || die "Python 3.11 or newer not found (tried ${PYTHON:+$PYTHON, }python3.11, python3).
  Install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11."
    if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
        ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        die "$PY has no working 'venv'/'ensurepip' module.
  Debian/Ubuntu: apt-get install python${ver}-venv"
    fi
    if [[ -e $VENV ]]; then
        [[ -f $VENV/pyvenv.cfg ]] || die "$VENV exists but is not a virtualenv; move it away first"
        say "existing .venv is broken or older than Python 3.11: recreating it"
        rm -rf "$VENV"
    fi
    say "creating .venv with $PY ($("$PY" --version 2>&1))"
    "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (Debian/Ubuntu: apt-get install python3.11-venv)"
fi

# Every editable package named in dev.txt must exist before pip runs.
missing=()
while read -r path; do
    [[ -f $path/pyproject.toml || -f $path/setup.py ]] || missing+=("$path")
done < <(sed -n 's/^[[:space:]]*-e[[:space:]]\{1,\}\([^[:space:]#]*\).*/\1/p' "$DEV")
if ((${#missing[@]})); then
    die "these packages listed in $DEV do not exist yet (no pyproject.toml): ${missing[*]}"
fi

rm -f "$STAMP"
say "installing (pip install -c $CONSTRAINTS -r $DEV) ..."
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
    -c "$CONSTRAINTS" -r "$DEV" ||
    die "pip install failed (see above). Fix it, then re-run 'make setup'."

# Report (do not fail on) inconsistent metadata among installed packages.
"$VENV/bin/python" -m pip check --disable-pip-version-check >/dev/null 2>&1 ||
    say "WARNING: 'pip check' reports conflicts: run '$VENV/bin/python -m pip check'"

touch "$STAMP"
say "done: .venv ready ($("$VENV/bin/python" --version 2>&1))"
