#!/usr/bin/env bash
# Creates benches/compare/.venv and installs the pinned peers into it.
# Idempotent: a venv whose installed set already matches requirements.txt is
# left alone (a stamp file holds the hash of requirements.txt).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
py="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv with $("$py" --version 2>&1)" >&2
    "$py" -m venv "$venv"
fi
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup: $venv is up to date" >&2
    exit 0
fi
echo "setup: installing requirements.txt" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q --upgrade pip
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$here/requirements.txt"
"$venv/bin/python" -c 'import duckdb, chdb, sqlite3; print("setup: duckdb", duckdb.__version__, "| chdb", chdb.__version__, "| sqlite", sqlite3.sqlite_version)' >&2
echo "$want" > "$stamp"
