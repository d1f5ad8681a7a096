#!/usr/bin/env bash
# fuzz_smoke.sh - builds the libFuzzer harnesses (fuzz/) with ASan+UBSan and
# runs each for a short while from the seed inputs in fuzz/seeds/<harness>/.
#
#   scripts/fuzz_smoke.sh              # 20 s per harness
#   FUZZ_SECONDS=300 scripts/fuzz_smoke.sh
#   FUZZERS="fuzz_clean" scripts/fuzz_smoke.sh
#   FUZZ_BUILD=/tmp/fz scripts/fuzz_smoke.sh   # build elsewhere than build-fuzz/
#
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev). Prints one
# line per harness; exits non-zero when any harness crashes, leaks, times out
# or fails an invariant. Crash inputs are kept in build-fuzz/artifacts/ and the
# harness log in build-fuzz/logs/; reproduce with
#   build-fuzz/fuzz/<harness> build-fuzz/artifacts/<harness>-crash-...
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz} # a build folder outside the tree works too
SECONDS_PER=${FUZZ_SECONDS:-20}
FUZZERS=${FUZZERS:-"fuzz_jsonl fuzz_tokenizer fuzz_clean fuzz_hash_mode fuzz_html fuzz_warc fuzz_events fuzz_index fuzz_pivot_wire fuzz_event_wire"}
TIMEOUT_PER_INPUT=${FUZZ_TIMEOUT:-10}

CC=clang cmake -S . -B "$BUILD" -G Ninja -DNF_FUZZ=ON -DNF_SANITIZE=ON -DNF_WERROR=ON >"$BUILD.configure.log" 2>&1 \
    || { cat "$BUILD.configure.log" >&2; echo "fuzz_smoke: configure failed" >&2; exit 2; }
rm -f "$BUILD.configure.log"
# only the harnesses (and the library they link): nothing else is needed here
if ! ninja -C "$BUILD" $FUZZERS >"$BUILD/build.log" 2>&1; then
    cat "$BUILD/build.log" >&2
    echo "fuzz_smoke: build failed" >&2
    exit 2
fi

# LeakSanitizer needs ptrace-like access that some containers deny; probe it
# with a program that leaks on purpose and turn leak checks off if it cannot
# run.
probe_dir=$(mktemp -d "$BUILD/lsan-probe.XXXXXX")
printf '#include <stdlib.h>\nint main(void) { void *volatile p = malloc(7); p = 0; return 0; }\n' >"$probe_dir/leak.c"
detect_leaks=0
probe_out=
if clang -fsanitize=address -o "$probe_dir/leak" "$probe_dir/leak.c" 2>/dev/null; then
    probe_out=$(ASAN_OPTIONS=detect_leaks=1 "$probe_dir/leak" 2>&1 || true)
fi
case $probe_out in
*"detected memory leaks"*) detect_leaks=1 ;;
*) echo "fuzz_smoke: LeakSanitizer does not work here; leak checks are off" ;;
esac
rm -rf "$probe_dir"
export ASAN_OPTIONS="detect_leaks=$detect_leaks:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
failed=0
for f in $FUZZERS; do
    corpus="$BUILD/corpus/$f"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp fuzz/seeds/"$f"/* "$corpus"/ 2>/dev/null || true
    dict=()
    [ -f "fuzz/$f.dict" ] && dict=("-dict=fuzz/$f.dict")
    log="$BUILD/logs/$f.log"
    rc=0
    "$BUILD/fuzz/$f" "${dict[@]}" -max_total_time="$SECONDS_PER" -max_len=65536 -timeout="$TIMEOUT_PER_INPUT" \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$f-" "$corpus" >"$log" 2>&1 \
        || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
    units=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        printf '%-16s ok     %8s runs in %ss, cov %s, corpus %s files\n' "$f" "${runs:-?}" "$SECONDS_PER" \
            "${cov:-?}" "$units"
    else
        failed=1
        artifact=$( (grep -o 'Test unit written to [^ ]*' "$log" || true) | tail -n 1 | sed 's/Test unit written to //')
        what=$( (grep -m1 -o 'ERROR: [A-Za-z]*Sanitizer: [a-z-]*\|runtime error: .*\|invariant failed: .*\|ERROR: libFuzzer: [a-z-]*' \
            "$log" || true) | head -n 1)
        printf '%-16s FAILED (exit %s) %s; input %s; log %s\n' "$f" "$rc" "${what:-see log}" "${artifact:-?}" "$log"
    fi
done
exit $failed
