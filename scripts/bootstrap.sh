#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv with Airflow, the provider and its test tools.
# Sourced by the other scripts; needs nothing but python3 (3.10+) on the machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TWELVELABS_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
# The newest tested Airflow and the versions of its dependencies it was tested with (docs/compatibility.md).
CONSTRAINTS="${TWELVELABS_CONSTRAINTS:-$ROOT/constraints/airflow-3.3.txt}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the packaging metadata changed since the last install.
STAMP="$VENV/.twelvelabs-install-stamp"
WANT="$(cat "$ROOT/pyproject.toml" "$CONSTRAINTS" | "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "==> installing airflow-provider-twelvelabs and its test dependencies (a few minutes the first time)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --constraint "$CONSTRAINTS" -e "$ROOT[test]"
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
