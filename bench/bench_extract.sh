#!/usr/bin/env bash
# bench_extract.sh - speed and memory of `newsfold extract` (read, decode,
# parse with gumbo, extract, write JSONL) on the 181 real pages of the
# article-extraction benchmark, as HTML files and as a WARC.gz crawl.
#
#   bench/bench_extract.sh                     # build, make the corpus, run -j1 and -j$(nproc)
#   BENCH_THREADS="1 2 4" bench/bench_extract.sh
#   BENCH_COPIES=10 bench/bench_extract.sh     # corpus = the pages this many times (default 5)
#   BENCH_RUNS=3 bench/bench_extract.sh        # repeat each run
#   SHARED=/path/to/shared BENCH_BUILD=/tmp/b BENCH_CORPUS=/tmp/c bench/bench_extract.sh
#
# The corpus (bench/data/extract/, git-ignored) holds each page uncompressed
# BENCH_COPIES times under distinct names (~31 MB per copy) and crawl.warc.gz
# with the same pages as HTTP responses, one gzip member per record.
# MB/s counts HTML bytes (the pages as served, before decoding). "per core"
# divides by the CPU seconds the process used (user + system, all threads),
# which stays meaningful on a busy machine; "wall" is elapsed time. Output
# goes to /dev/null, so JSON writing is included but no disk writes.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BENCH_BUILD:-build-bench}
SHARED=${SHARED:-../shared}
COPIES=${BENCH_COPIES:-5}
THREADS=${BENCH_THREADS:-"1 $(nproc)"}
RUNS=${BENCH_RUNS:-1}
DATA="$SHARED/data/article-extraction/html"
CORPUS=${BENCH_CORPUS:-bench/data/extract}

[ -d "$DATA" ] || { echo "bench_extract: $DATA missing" >&2; exit 2; }
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$BUILD" --target newsfold_cli -j "$(nproc)" >/dev/null

# one WARC record: type uri content-type block-file
warc_record() {
    printf 'WARC/1.0\r\nWARC-Type: %s\r\nWARC-Target-URI: %s\r\nWARC-Date: 2019-11-20T00:00:00Z\r\n' "$1" "$2"
    printf 'Content-Type: %s\r\nContent-Length: %d\r\n\r\n' "$3" "$(stat -c %s "$4")"
    cat "$4"
    printf '\r\n\r\n'
}

make_corpus() {
    rm -rf "$CORPUS"
    mkdir -p "$CORPUS/html"
    local tmp
    tmp=$(mktemp)
    for c in $(seq "$COPIES"); do
        for f in "$DATA"/*.html.gz; do
            local name
            name=$(basename "$f" .html.gz)
            gzip -dc "$f" >"$CORPUS/html/$c-$name.html"
            { printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n'
              cat "$CORPUS/html/$c-$name.html"; } >"$tmp"
            warc_record response "https://bench.example/$c/$name" "application/http; msgtype=response" "$tmp" |
                gzip -1 >>"$CORPUS/crawl.warc.gz"
        done
    done
    rm -f "$tmp"
    echo "$COPIES" >"$CORPUS/copies"
}

[ "$(cat "$CORPUS/copies" 2>/dev/null)" = "$COPIES" ] || make_corpus

html_mb=$(du -sb "$CORPUS/html" | awk '{printf "%.1f", $1 / 1e6}')
echo "corpus: $CORPUS: $(ls "$CORPUS/html" | wc -l) pages, $html_mb MB of HTML; crawl.warc.gz $(($(stat -c %s "$CORPUS/crawl.warc.gz") / 1000000)) MB"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
for input in "$CORPUS/html" "$CORPUS/crawl.warc.gz"; do
    for j in $THREADS; do
        for run in $(seq "$RUNS"); do
            cmd=("$BUILD/newsfold" extract --quiet --stats "-j$j" -o /dev/null "$input")
            stats=$("${cmd[@]}" 2>&1 >/dev/null | grep '^stats:' || true)
            [ -n "$stats" ] || { echo "bench_extract: no stats line from: ${cmd[*]}" >&2; exit 1; }
            # stats: extract: N pages, X MB of HTML in T s: R MB/s, P pages/s, J threads,
            #        cpu C s: Q MB/s per core, peak RSS M MB
            echo "$stats" | awk -v j="$j" -v run="$run" -v name="$(basename "$input")" '{
                for (i = 1; i <= NF; i++) {
                    if ($(i + 1) == "MB/s," ) wall = $i
                    if ($(i + 1) == "MB/s" && $(i + 2) == "per") core = $i
                    if ($i == "RSS") rss = $(i + 1)
                }
                printf "%-15s -j%-2s run %s: %7.1f MB/s wall  %6.1f MB/s per core  peak RSS %6.1f MB\n",
                       name, j, run, wall, core, rss
            }'
        done
    done
done
