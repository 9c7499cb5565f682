#!/usr/bin/env bash
# Runs every check of the project: lint, format, types, then the test suite.
# Usage: ./scripts/test.sh [extra pytest arguments]
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
# The distributed end-to-end test (tests/e2e/test_distributed.py) runs a Redis broker of its own;
# PostgreSQL is on these machines. As root, install redis-server when it is missing; the test
# starts its servers on 127.0.0.1 and skips, saying why, without them.
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing redis-server (for tests/e2e/test_distributed.py)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }; then
            echo "redis-server could not be installed: tests/e2e/test_distributed.py will be skipped"
        fi
    else
        echo "redis-server is not installed: tests/e2e/test_distributed.py will be skipped"
    fi
fi
echo "==> pytest"
# A throwaway Airflow home, so tests never touch the user's own.
AIRFLOW_HOME="$(mktemp -d)"
export AIRFLOW_HOME
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
export AIRFLOW__CORE__LOAD_EXAMPLES=False
python -m pytest -p no:cacheprovider --durations=30 "$@"
