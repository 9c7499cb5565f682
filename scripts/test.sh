#!/usr/bin/env bash
# Runs every check of the project: lint, format, types, then the test suite.
# Usage: ./scripts/test.sh [--with-matrix | pytest arguments]
#
# Without arguments it runs the whole suite on the newest Airflow in two lanes at once: the slow
# suites (real schedulers and triggerers, killed workers, load; mostly waiting on other processes)
# in one, the default suite (`-m "not slow"`) in the other. --with-matrix (what .ci/run uses) then
# runs the version matrix, ./scripts/matrix.sh, in the second lane once the default suite is done.
# Each lane has its own Airflow home, and prefixes its lines with its name. With pytest arguments
# (e.g. `-m "not slow"`, `tests/unit`, `-k upload`) it runs one pytest with them instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"

echo "==> ruff check"
ruff check .
echo "==> ruff format --check"
ruff format --check .
echo "==> mypy"
mypy
# The PostgreSQL + Celery tests (tests/e2e/test_distributed.py, test_reliability.py) run a Redis
# broker of their own; PostgreSQL is on these machines. As root, install redis-server when it is
# missing; the tests start their servers on 127.0.0.1 and skip, saying why, without them.
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing redis-server (for the PostgreSQL + Celery tests: tests/e2e/test_distributed.py, test_reliability.py)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }; then
            echo "redis-server could not be installed: the PostgreSQL + Celery tests (test_distributed.py, most of test_reliability.py) will be skipped"
        fi
    else
        echo "redis-server is not installed: the PostgreSQL + Celery tests (test_distributed.py, most of test_reliability.py) will be skipped"
    fi
fi
echo "==> pytest"
# A throwaway Airflow home per pytest, so tests never touch the user's own (nor each other's).
export AIRFLOW__CORE__LOAD_EXAMPLES=False
PYTEST=(python -m pytest -p no:cacheprovider --durations=30)

with_home() {
    local home rc=0
    home="$(mktemp -d)"
    AIRFLOW_HOME="$home" "$@" || rc=$?
    rm -rf "$home"
    return "$rc"
}

if [ $# -gt 0 ] && [ "$1" != --with-matrix ]; then
    echo "==> pytest $*"
    with_home "${PYTEST[@]}" "$@"
    exit
fi
with_matrix=0
[ "${1:-}" != --with-matrix ] || with_matrix=1

# One lane: a command whose output lines are prefixed with the lane's name; returns its status.
lane() {
    local name="$1" rc
    shift
    echo "==> [$name] $*"
    set +e
    with_home "$@" 2>&1 | sed -u "s/^/[$name] /"
    rc="${PIPESTATUS[0]}"
    set -e
    echo "==> [$name] finished with status $rc after $((SECONDS / 60)) min $((SECONDS % 60)) s"
    return "$rc"
}

# Stop the other lane too when interrupted.
trap 'trap - INT TERM; kill 0' INT TERM
SECONDS=0
lane slow "${PYTEST[@]}" -m slow &
slow_lane=$!
status=0
lane default "${PYTEST[@]}" -m "not slow" || status=1
if [ "$with_matrix" = 1 ]; then
    lane matrix ./scripts/matrix.sh || status=1
fi
wait "$slow_lane" || status=1
echo "==> all lanes done in $((SECONDS / 60)) min $((SECONDS % 60)) s: $([ "$status" = 0 ] && echo passed || echo FAILED)"
exit "$status"
