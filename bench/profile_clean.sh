#!/usr/bin/env bash
# profile_clean.sh - where `newsfold clean -j1` spends its time.
#
#   bench/profile_clean.sh               # 20 MB subset of the bench corpus
#   PROFILE_MB=5 bench/profile_clean.sh
#   PROFILE_INPUT=rc20m.jsonl bench/profile_clean.sh   # any JSONL file instead
#
# Builds Release at -O2 with symbols (-g does not change the code) into
# build-prof/, writes the first PROFILE_MB MB of the bench corpus (same seed,
# so a prefix of bench/data/corpus.jsonl) to bench/data/corpus-<N>mb.jsonl,
# then profiles one single-threaded run:
# - with `perf record -g` when hardware counters work here (checked with
#   `perf stat -e instructions true`), else with perf's software clock
#   (`-e cpu-clock`, no counters needed);
# - with valgrind --tool=callgrind (instruction counts, about 35x slower
#   than a native run) when perf is missing or PROFILE_CALLGRIND=1.
# First prints the CPU time of the run and of `LC_ALL=C.UTF-8 wc -w` on the
# same file (the ratio issue 10 sets targets in), then the top functions by
# self cost and, for callgrind, the stages by inclusive cost.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${PROFILE_BUILD:-build-prof}
MB=${PROFILE_MB:-20}
SHARED=${SHARED:-../shared}
SUBSET=${PROFILE_INPUT:-bench/data/corpus-${MB}mb.jsonl}
OUT=${PROFILE_OUT:-$BUILD/profile}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -g -DNDEBUG" >/dev/null
cmake --build "$BUILD" --target newsfold_cli -j "$(nproc)" >/dev/null
[ -s "$SUBSET" ] || python3 bench/make_corpus.py --shared "$SHARED" --size-mb "$MB" --out "$SUBSET"
mkdir -p "$OUT"
cmd=("$BUILD/newsfold" clean --quiet -j1 -o /dev/null "$SUBSET")

cpu_seconds() { # user+sys CPU seconds of a command
    /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -n 1 | awk '{print $1 + $2}'
}
wc_s=$(cpu_seconds env LC_ALL=C.UTF-8 wc -w "$SUBSET")
clean_s=$(cpu_seconds "${cmd[@]}")
echo "CPU seconds: clean -j1 $clean_s, wc -w $wc_s, ratio $(awk -v a="$clean_s" -v b="$wc_s" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')"

perf_event=()
if [ "${PROFILE_CALLGRIND:-0}" = 1 ] || ! command -v perf >/dev/null; then
    perf_event=(none)
elif ! perf stat -e instructions true 2>&1 | grep -q '^ *[0-9][0-9,]* *instructions'; then
    perf_event=(-e cpu-clock -F 2000)
fi
if [ "${perf_event[*]}" != none ]; then
    echo "profiler: perf record -g ${perf_event[*]:-(hardware counters)}"
    perf record -g "${perf_event[@]}" -o "$OUT/perf.data" "${cmd[@]}"
    echo "== self cost by function"
    perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -a '%' | head -n 15 || true
    echo "== cost by shared object"
    perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -a '%' | head -n 10 || true
else
    echo "profiler: valgrind --tool=callgrind (perf has no hardware counters here)"
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "${cmd[@]}" 2>"$OUT/valgrind.log"
    grep 'refs:' "$OUT/valgrind.log" || true
    echo "== self cost by function (instructions)"
    callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,17p' | cut -c1-140
    echo "== inclusive cost of the stages (instructions)"
    callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null |
        grep -E ':(nf_clean_batch|nf_langid_detect|nfi_cld2_detect|nfi_tokenize|nfi_count_tokens|emit|sb_stemmer_stem|nfi_boilerplate_classify|nf_find_date|nf_reader_next|nf_doc_from_json|cJSON_ParseWithLength|write_batch) \[' |
        cut -c1-140
fi
