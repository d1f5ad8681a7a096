#!/usr/bin/env bash
# fuzz_long.sh - long fuzzing runs outside CI: every libFuzzer harness in
# fuzz/ for N minutes each, one harness at a time (at low priority), and the
# inputs that add coverage are merged back into fuzz/seeds/<harness>/.
#
#   scripts/fuzz_long.sh                   # 30 minutes per harness
#   FUZZ_MINUTES=5 scripts/fuzz_long.sh    # shorter
#   FUZZERS="fuzz_jsonl fuzz_index" scripts/fuzz_long.sh
#   FUZZ_BUILD=/tmp/fz scripts/fuzz_long.sh
#
# How it works: the harnesses are built with ASan+UBSan (as by fuzz_smoke.sh,
# in $FUZZ_BUILD, default build-fuzz-long/); each runs from a working corpus
# seeded with fuzz/seeds/<harness>/ for FUZZ_MINUTES; afterwards
# `<harness> -merge=1 -use_counters=0 fuzz/seeds/<harness> <working corpus>`
# copies into the seed folder only the inputs that reach new edges, so the
# kept seeds stay small. One line per harness is printed and appended to
# $FUZZ_BUILD/summary.txt: executions, seconds, coverage, seeds added. A crash
# stops that harness (its input is kept in $FUZZ_BUILD/artifacts/) and makes
# the script exit non-zero; the other harnesses still run.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz-long}
MINUTES=${FUZZ_MINUTES:-30}
FUZZERS=${FUZZERS:-"fuzz_jsonl fuzz_tokenizer fuzz_clean fuzz_hash_mode fuzz_html fuzz_warc fuzz_events fuzz_index fuzz_pivot_wire fuzz_event_wire"}
TIMEOUT_PER_INPUT=${FUZZ_TIMEOUT:-10}
NICE=${FUZZ_NICE:-19}

CC=clang cmake -S . -B "$BUILD" -G Ninja -DNF_FUZZ=ON -DNF_SANITIZE=ON -DNF_WERROR=ON >"$BUILD.configure.log" 2>&1 \
    || { cat "$BUILD.configure.log" >&2; echo "fuzz_long: configure failed" >&2; exit 2; }
rm -f "$BUILD.configure.log"
if ! nice -n "$NICE" ninja -j "${FUZZ_BUILD_JOBS:-2}" -C "$BUILD" $FUZZERS >"$BUILD/build.log" 2>&1; then
    cat "$BUILD/build.log" >&2
    echo "fuzz_long: build failed" >&2
    exit 2
fi

# Leak checks only where LeakSanitizer works (some containers deny it).
probe_dir=$(mktemp -d "$BUILD/lsan-probe.XXXXXX")
printf '#include <stdlib.h>\nint main(void) { void *volatile p = malloc(7); p = 0; return 0; }\n' >"$probe_dir/leak.c"
detect_leaks=0
if clang -fsanitize=address -o "$probe_dir/leak" "$probe_dir/leak.c" 2>/dev/null &&
    ASAN_OPTIONS=detect_leaks=1 "$probe_dir/leak" 2>&1 | grep -q "detected memory leaks"; then
    detect_leaks=1
fi
rm -rf "$probe_dir"
export ASAN_OPTIONS="detect_leaks=$detect_leaks:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

mkdir -p "$BUILD/artifacts" "$BUILD/logs" "$BUILD/corpus"
failed=0
for f in $FUZZERS; do
    seeds="fuzz/seeds/$f"
    corpus="$BUILD/corpus/$f"
    mkdir -p "$seeds" "$corpus"
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    dict=()
    [ -f "fuzz/$f.dict" ] && dict=("-dict=fuzz/$f.dict")
    log="$BUILD/logs/$f.log"
    before=$(find "$seeds" -type f | wc -l)
    rc=0
    nice -n "$NICE" "$BUILD/fuzz/$f" "${dict[@]}" -max_total_time=$((MINUTES * 60)) -max_len=65536 \
        -timeout="$TIMEOUT_PER_INPUT" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$BUILD/artifacts/$f-" "$corpus" >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
    # keep only what adds edge coverage to the committed seeds (hit counts
    # left out: they would keep hundreds of near-identical inputs)
    nice -n "$NICE" "$BUILD/fuzz/$f" -merge=1 -use_counters=0 -max_len=65536 -timeout="$TIMEOUT_PER_INPUT" -rss_limit_mb=2048 \
        "$seeds" "$corpus" >"$log.merge" 2>&1 || true
    added=$(($(find "$seeds" -type f | wc -l) - before))
    if [ "$rc" -eq 0 ]; then
        line=$(printf '%-16s ok     %10s runs in %ss, cov %s, %s seeds added' "$f" "${runs:-?}" "${secs:-?}" \
            "${cov:-?}" "$added")
    else
        failed=1
        what=$( (grep -m1 -o 'ERROR: [A-Za-z]*Sanitizer: [a-z-]*\|runtime error: .*\|invariant failed: .*\|ERROR: libFuzzer: [a-z-]*' \
            "$log" || true) | head -n 1)
        artifact=$( (grep -o 'Test unit written to [^ ]*' "$log" || true) | tail -n 1 | sed 's/Test unit written to //')
        line=$(printf '%-16s FAILED (exit %s) %s; input %s; log %s' "$f" "$rc" "${what:-see log}" "${artifact:-?}" "$log")
    fi
    echo "$line"
    echo "$(date -u +%FT%TZ) $line" >>"$BUILD/summary.txt"
done
exit $failed
