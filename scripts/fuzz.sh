#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) with
# AddressSanitizer (cargo-fuzz's default), starting from the committed seeds
# in fuzz/seeds/ and a working corpus in fuzz/corpus/ (not committed).
#   scripts/fuzz.sh [seconds-per-target]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# A crash stops the script with a non-zero status; the input that crashed is
# saved under fuzz/artifacts/<target>/ and becomes a regression test in tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in reductions penalties updates partials hostile; do
    mkdir -p "fuzz/corpus/$target"
    echo "=== fuzzing $target for ${seconds}s" >&2
    status=0
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+.*DONE|stat::|Done )' "$log" || true
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $target failed (status $status):" >&2
        tail -60 "$log" >&2
        exit "$status"
    fi
done
