#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target in fuzz/ for a while, one after
# another, and prints one line per target: name, executions, seconds,
# corpus size. Exits non-zero if any target crashed (the input is saved
# under fuzz/artifacts/<target>/).
#
#   scripts/fuzz-smoke.sh            # 20 s per target
#   scripts/fuzz-smoke.sh 300        # the longer run of docs/notes/fuzzing.md
#   TARGETS="log_bytes ops_model" scripts/fuzz-smoke.sh 60
#
# Needs rustup (a nightly toolchain is installed if missing) and cargo-fuzz
# (installed if missing). Builds go to $CARGO_TARGET_DIR if set, else
# fuzz/target (git-ignored). The corpus grows in fuzz/corpus/<target>/
# (git-ignored); the starting inputs are generated from the code by the
# gen-seeds binary, so they follow format changes.
set -euo pipefail

secs="${1:-20}"
cd "$(dirname "$0")/.."
root="$(pwd)"
all="segment_bytes segment_mutated log_bytes json_event csv_event query_doc ops_model"
targets="${TARGETS:-$all}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

target_dir="${CARGO_TARGET_DIR:-$root/fuzz/target}"
export CARGO_TARGET_DIR="$target_dir"

# Every binary of fuzz/ (the targets, gen-seeds, replay), in cargo-fuzz's
# default mode: optimized, with debug assertions, overflow checks and
# AddressSanitizer.
cargo +nightly fuzz build
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
"$target_dir/$triple/release/gen-seeds" fuzz/corpus >/dev/null

dict_for() {
    case "$1" in
        json_event) echo "-dict=fuzz/dicts/json.dict" ;;
        query_doc) echo "-dict=fuzz/dicts/query.dict" ;;
        csv_event) echo "-dict=fuzz/dicts/csv.dict" ;;
    esac
}

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=0
printf '%-16s %12s %8s %8s\n' target execs seconds corpus
for t in $targets; do
    start=$(date +%s)
    status=0
    # shellcheck disable=SC2046
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=60 -rss_limit_mb=3072 \
        -print_final_stats=1 $(dict_for "$t") \
        >"$logs/$t.log" 2>&1 || status=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    printf '%-16s %12s %8s %8s\n' "$t" "${execs:-?}" "$elapsed" "$corpus"
    if [ "$status" -ne 0 ]; then
        failed=1
        echo "--- $t FAILED (exit $status); last lines of its output:" >&2
        tail -40 "$logs/$t.log" >&2
    fi
done
exit "$failed"
