#!/usr/bin/env bash
# The demo: the nightly archive pipeline, example DAG `twelvelabs_media_archive`, run twice.
#
# Needs only bash and python3 (3.10+): creates or refreshes .venv/, then
#   * without TWELVELABS_API_KEY: starts the local TwelveLabs API emulator on a free loopback port;
#   * with TWELVELABS_API_KEY: talks to the real API (TWELVELABS_BASE_URL, default
#     https://api.twelvelabs.io/v1.3);
# uses a throwaway AIRFLOW_HOME with SQLite, runs `airflow dags test twelvelabs_media_archive`
# (upload, index, one analyze batch, embeddings; every wait deferrable), prints the first rows of
# the catalog it wrote, then runs it again: the second run finds every file done (0 new files).
#
# Environment:
#   SOURCE              folder or bucket to archive (default: example_dags/media, 3 short videos)
#   INDEX_NAME          the index to create or reuse (default: demo)
#   OUTPUT_PATH         where the catalogs go (default: .demo/catalog)
#   TWELVELABS_DEMO_DIR the demo's throwaway folder, emptied first (default: .demo; the tests set it)
#   TWELVELABS_API_KEY  use the real API with this key
#   TWELVELABS_BASE_URL the real API's base URL, version path included
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bootstrap.sh
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"

SOURCE="${SOURCE:-$ROOT/example_dags/media}"
INDEX_NAME="${INDEX_NAME:-demo}"
DEMO_DIR="${TWELVELABS_DEMO_DIR:-$ROOT/.demo}"
EMULATOR_PID=""

cleanup() {
    if [ -n "$EMULATOR_PID" ] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh Airflow home for every run; logs stay in .demo/ afterwards for a look.
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
export AIRFLOW_HOME="$DEMO_DIR/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO

if [ -n "${TWELVELABS_API_KEY:-}" ]; then
    MODE="the TwelveLabs API"
    BASE_URL="${TWELVELABS_BASE_URL:-https://api.twelvelabs.io/v1.3}"
    API_KEY="$TWELVELABS_API_KEY"
else
    MODE="the local TwelveLabs emulator"
    API_KEY="tlk_demo_emulator_key"
    echo "==> starting the TwelveLabs API emulator on 127.0.0.1"
    python -m airflow_provider_twelvelabs.testing.emulator --host 127.0.0.1 --port 0 --api-key "$API_KEY" \
        >"$DEMO_DIR/emulator.url" 2>"$DEMO_DIR/emulator.log" &
    EMULATOR_PID=$!
    BASE_URL=""
    for _ in $(seq 1 300); do
        BASE_URL="$(head -n 1 "$DEMO_DIR/emulator.url" 2>/dev/null || true)"
        [ -n "$BASE_URL" ] && break
        if ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
            echo "error: the emulator did not start:" >&2
            cat "$DEMO_DIR/emulator.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [ -z "$BASE_URL" ]; then
        echo "error: the emulator printed no base URL within 30 s" >&2
        exit 1
    fi
    # The emulator moves a resource on at each poll: poll it briskly.
    export TWELVELABS_EXAMPLE_POLL_INTERVAL=0.2
fi
echo "==> using $MODE at $BASE_URL"

# The connection as an environment variable (JSON form); the key never reaches the output.
AIRFLOW_CONN_TWELVELABS_DEFAULT="$(API_KEY="$API_KEY" BASE_URL="$BASE_URL" python -c '
import json, os
print(json.dumps({"conn_type": "twelvelabs", "password": os.environ["API_KEY"], "host": os.environ["BASE_URL"]}))
')"
export AIRFLOW_CONN_TWELVELABS_DEFAULT

echo "==> preparing a throwaway Airflow home (SQLite) in .demo/airflow"
if ! airflow db migrate >"$DEMO_DIR/db-migrate.log" 2>&1; then
    echo "error: airflow db migrate failed; last lines of .demo/db-migrate.log:" >&2
    tail -n 30 "$DEMO_DIR/db-migrate.log" >&2
    exit 1
fi

# The DAG's TwelveLabs tasks run in the pool twelvelabs_api (docs/deployment.md, "Pools").
# `airflow dags test` does not enforce pools, so the demo does not create it; a scheduler would
# not run the tasks of a pool that does not exist: `airflow pools set twelvelabs_api 8 "..."`.
OUTPUT_PATH="${OUTPUT_PATH:-$DEMO_DIR/catalog}"
export OUTPUT_PATH
CONF="$(SOURCE="$SOURCE" INDEX_NAME="$INDEX_NAME" python -c '
import json, os
print(json.dumps({k: os.environ[k.upper()] for k in ("source", "index_name", "output_path")}))
')"

# One run of the DAG; $1 names it (first, second): its log is .demo/dags-test-$1.log.
run_dag() {
    local log="$DEMO_DIR/dags-test-$1.log" status started=$SECONDS
    echo "==> $1 run: airflow dags test twelvelabs_media_archive -c '$CONF'"
    echo "    (full log: .demo/dags-test-$1.log)"
    set +e
    # Show the steps as they happen: the operators' own messages and the deferrals, without the noise.
    airflow dags test twelvelabs_media_archive -c "$CONF" 2>&1 | tee "$log" |
        python -u "$ROOT/scripts/demo_report.py" progress
    status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ] || ! grep -q "DagRun Finished: .*state=success" "$log"; then
        echo "error: the $1 DAG run failed (exit status $status); see .demo/dags-test-$1.log" >&2
        exit 1
    fi
    echo "==> the $1 run succeeded in $((SECONDS - started)) s"
}

run_dag first
echo
python "$ROOT/scripts/demo_report.py" catalog "$DEMO_DIR/dags-test-first.log"
echo
run_dag second
python "$ROOT/scripts/demo_report.py" summary "$DEMO_DIR/dags-test-second.log"
