#!/usr/bin/env bash
# The side-by-side benchmark (issue 5), one command:
#   benches/compare/run.sh small|medium|large [harness options]
# small: 10k events/day, medium: 100k/day, large: 1M/day (opt-in: ~24 GB of
# JSONL and a long SQLite load), 31 days each. Sets up the venv, builds
# daybook (release), generates the data, loads and queries each system in
# turn, checks every answer against daybook's and writes
# benches/compare/results/SIZE.{md,json,png}. Exits non-zero if any answer
# disagrees. Needs no terminal.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
size="${1:-small}"
case "$size" in
    small|medium|large) ;;
    *) echo "usage: $0 small|medium|large [harness options]" >&2; exit 2 ;;
esac
shift || true

"$here/setup.sh"
(cd "$root" && cargo build --release)
exec "$here/.venv/bin/python" "$here/harness.py" "$size" "$@" </dev/null
