#!/usr/bin/env bash
# profile_clean.sh - where `newsfold clean -j1` spends its time.
#
#   bench/profile_clean.sh               # 20 MB subset of the bench corpus
#   PROFILE_MB=5 bench/profile_clean.sh
#
# Builds Release at -O2 with symbols (-g does not change the code) into
# build-prof/, writes the first PROFILE_MB MB of the bench corpus (same seed,
# so a prefix of bench/data/corpus.jsonl) to bench/data/corpus-<N>mb.jsonl,
# then profiles one single-threaded run:
# - with `perf record -g` when hardware counters work here (checked with
#   `perf stat -e instructions true`);
# - else with valgrind --tool=callgrind (instruction counts, about 35x slower
#   than a native run).
# Prints the top functions by self cost and the stages by inclusive cost.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${PROFILE_BUILD:-build-prof}
MB=${PROFILE_MB:-20}
SHARED=${SHARED:-../shared}
SUBSET=bench/data/corpus-${MB}mb.jsonl
OUT=${PROFILE_OUT:-$BUILD/profile}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -g -DNDEBUG" >/dev/null
cmake --build "$BUILD" --target newsfold_cli -j "$(nproc)" >/dev/null
[ -s "$SUBSET" ] || python3 bench/make_corpus.py --shared "$SHARED" --size-mb "$MB" --out "$SUBSET"
mkdir -p "$OUT"
cmd=("$BUILD/newsfold" clean --quiet -j1 -o /dev/null "$SUBSET")

if perf stat -e instructions true 2>&1 | grep -q '^ *[0-9][0-9,]* *instructions'; then
    echo "profiler: perf record -g (hardware counters available)"
    perf record -g -o "$OUT/perf.data" "${cmd[@]}"
    echo "== self cost by function"
    perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep '%' | head -n 15
    echo "== cost by shared object"
    perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -n 10
else
    echo "profiler: valgrind --tool=callgrind (perf has no hardware counters here)"
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "${cmd[@]}" 2>"$OUT/valgrind.log"
    grep 'refs:' "$OUT/valgrind.log" || true
    echo "== self cost by function (instructions)"
    callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,17p' | cut -c1-140
    echo "== inclusive cost of the stages (instructions)"
    callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null |
        grep -E ':(nf_clean_batch|nf_langid_detect|textcat_ClassifyFull|nf_tokenize|sb_stemmer_stem|nf_boilerplate_classify|nf_find_date|nf_reader_next|cJSON_ParseWithLength|write_record) \[' |
        cut -c1-140
fi
