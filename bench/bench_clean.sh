#!/usr/bin/env bash
# bench_clean.sh - throughput of `newsfold clean` (ingest + clean + normalize)
# on a JSONL corpus of about 220 MB built from the shared data.
#
#   bench/bench_clean.sh                  # build, make the corpus if missing, run -j1 and -j2
#   BENCH_THREADS="1 2 4" bench/bench_clean.sh
#   BENCH_RUNS=3 bench/bench_clean.sh     # repeat each run
#   SHARED=/path/to/shared bench/bench_clean.sh
#
# The build is Release at -O2 in build-bench/; the corpus is
# bench/data/corpus.jsonl (git-ignored; bench/make_corpus.py --help).
# Output goes to /dev/null, so the figures include JSON writing but no disk
# writes. MB/s counts the documents' text bytes (what --stats reports), not
# the JSONL file size.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BENCH_BUILD:-build-bench}
CORPUS=bench/data/corpus.jsonl
THREADS=${BENCH_THREADS:-"1 2"}
RUNS=${BENCH_RUNS:-1}
SHARED=${SHARED:-../shared}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$BUILD" --target newsfold_cli -j "$(nproc)" >/dev/null

if [ ! -s "$CORPUS" ]; then
    python3 bench/make_corpus.py --shared "$SHARED" --out "$CORPUS"
fi

echo "corpus: $CORPUS, $(($(stat -c %s "$CORPUS") / 1000000)) MB, $(wc -l <"$CORPUS") records"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
for j in $THREADS; do
    for run in $(seq "$RUNS"); do
        cmd=("$BUILD/newsfold" clean --quiet --stats "-j$j" -o /dev/null "$CORPUS")
        stats=$("${cmd[@]}" 2>&1 >/dev/null | grep '^stats:' || true)
        if [ -z "$stats" ]; then
            echo "bench_clean: no stats line from: ${cmd[*]}" >&2
            exit 1
        fi
        # stats: N docs, X MB in T s: R MB/s, D docs/s, J threads, peak RSS M MB
        echo "$stats" | awk -v j="$j" -v run="$run" '{
            for (i = 1; i <= NF; i++) {
                if ($(i + 1) == "MB/s,") mbs = $i
                if ($(i + 1) == "docs/s,") dps = $i
                if ($i == "RSS") rss = $(i + 1)
                if ($(i + 1) == "s:") secs = $i
            }
            printf "-j%s run %s: %8.1f MB/s %9.0f docs/s  peak RSS %7.1f MB  (%s s)\n", j, run, mbs, dps, rss, secs
        }'
        echo "    $stats"
    done
done
