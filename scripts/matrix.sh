#!/usr/bin/env bash
# The version matrix: runs the tests on other supported Airflow releases, each in its own virtualenv.
# Usage: ./scripts/matrix.sh [AIRFLOW_VERSION ...]   (default: the lowest supported release, below)
#
# ./scripts/test.sh tests the newest Airflow (the main venv, .venv/) with everything, slow suites
# included (`./scripts/test.sh --with-matrix`, what .ci/run runs, runs this script too). This script covers the other end of the range: for each version it creates
# .venv-airflow-<major>.<minor>/ (kept, and reinstalled only when pyproject.toml, the constraints or
# the version change), installs apache-airflow==<version> with constraints/airflow-<major>.<minor>.txt
# and the provider with its test extra, then runs the unit, integration and end-to-end tests that
# are not slow, and three slow `airflow dags test` ones (DAGS_TEST_SLOW). The real-scheduler,
# killed-worker, triggerer-restart, packaging and load suites run on the newest release only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

# The lowest supported Airflow (the latest patch of the lowest minor in pyproject.toml's range).
LOWEST=3.1.8
# The slow end-to-end tests that run `airflow dags test` (no scheduler, no killed process) and show a
# feature on this Airflow: deferral in the demo DAG, OpenLineage, the testing kit's documented command.
# (The rest of the slow dags-test cases check arguments and reruns that do not depend on the version.)
DAGS_TEST_SLOW=(
    tests/e2e/test_example_dag.py::test_example_dag_indexes_the_sample_media
    tests/e2e/test_lineage_dag.py
    tests/e2e/test_dag_test_kit.py::test_the_documented_command_runs_the_user_dag
)

# The emulator's own tests (its routes, its wire format, the official SDK against it) do not
# depend on Airflow's version: the newest lane runs them.
EMULATOR_ONLY=(--ignore=tests/unit/emulator --ignore-glob='tests/integration/test_emulator_*')

run_lane() {
    local version="$1" minor venv constraints stamp want
    minor="$(echo "$version" | cut -d. -f1,2)"
    venv="$ROOT/.venv-airflow-$minor"
    constraints="$ROOT/constraints/airflow-$minor.txt"
    if [ ! -f "$constraints" ]; then
        echo "matrix: no $constraints: Airflow $minor is not a tested version" >&2
        return 2
    fi
    echo "==> matrix: Airflow $version in $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$PYTHON" -m venv "$venv"
    fi
    stamp="$venv/.twelvelabs-install-stamp"
    want="$( (cat pyproject.toml "$constraints"; echo "$version") |
        "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "==> matrix: installing apache-airflow==$version with $constraints"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "apache-airflow==$version" --constraint "$constraints" -e "$ROOT[test]"
        echo "$want" > "$stamp"
    fi
    local got
    got="$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("apache-airflow"))')"
    if [ "$got" != "$version" ]; then
        echo "matrix: $venv has Airflow $got, not $version" >&2
        return 1
    fi

    # A throwaway Airflow home per lane, so the lanes share nothing.
    local home rc=0
    home="$(mktemp -d)"
    (
        export PATH="$venv/bin:$PATH" AIRFLOW_HOME="$home" AIRFLOW__CORE__LOAD_EXAMPLES=False
        echo "==> matrix: Airflow $version: unit, integration and end-to-end tests (not slow)" &&
            python -m pytest -p no:cacheprovider -q -m "not slow" tests "${EMULATOR_ONLY[@]}" &&
            echo "==> matrix: Airflow $version: the airflow dags test end-to-end tests" &&
            python -m pytest -p no:cacheprovider -q "${DAGS_TEST_SLOW[@]}"
    ) || rc=$?
    rm -rf "$home"
    return "$rc"
}

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("$LOWEST")
for version in "${versions[@]}"; do
    SECONDS=0
    run_lane "$version"
    echo "==> matrix: Airflow $version passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
done
