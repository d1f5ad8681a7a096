#!/usr/bin/env bash
# bench_speed.sh - every command side by side with `wc -w` (and dedup with
# datasketch) on undated, unlabelled news-like corpora, in one run.
#
#   bench/bench_speed.sh                 # the 20 MB corpus only (quick)
#   bench/bench_speed.sh 20 100 500      # also the 100 MB and 500 MB ones
#   BENCH_COMMANDS="dedup" bench/bench_speed.sh
#   BENCH_THREADS="1 2" BENCH_RUNS=3 bench/bench_speed.sh   # best of 3
#   DATASKETCH_DIR=/path/to/datasketch bench/bench_speed.sh # the datasketch column
#   SHARED=/path/to/shared BENCH_BUILD=build-bench bench/bench_speed.sh
#
# Corpus: ../shared/bench/recombine.py (each document 12-30 real sentences
# of one language from the WMT21 versions; ids and text only), SIZE MB as
# bench/data/rcSIZEm.jsonl (git-ignored). Build: Release in $BENCH_BUILD.
#
# For each corpus, command (clean, dedup, links, run) and thread count, one
# line: wall seconds, CPU seconds (user + system), MB/s and docs/s (file
# bytes and records over wall time), peak RSS (/usr/bin/time %M), and the
# ratio of the command's time to the time `LC_ALL=C.UTF-8 wc -w` takes on
# the same file, measured just before it (wall and CPU). On a machine
# shared with other jobs the CPU ratio is the one to trust; on a quiet one
# the two agree. With BENCH_RUNS > 1 each figure is the best of the runs.
#
# datasketch: bench/datasketch_dedup.py does dedup's job (5-word shingles,
# 128 permutations, MinHashLSH at 0.6) with datasketch from DATASKETCH_DIR
# (a checkout of https://github.com/ekzhu/datasketch, never vendored here)
# and Debian's python3-numpy and python3-scipy, which this script installs
# with apt-get when missing and it may; without them, or without
# DATASKETCH_DIR, the column is skipped with a message.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=("${@:-20}")
COMMANDS=${BENCH_COMMANDS:-"clean dedup links run"}
THREADS=${BENCH_THREADS:-"1 2"}
RUNS=${BENCH_RUNS:-1}
BUILD=${BENCH_BUILD:-build-bench}
SHARED=${SHARED:-../shared}
DATA=bench/data
NF=$BUILD/newsfold
PY=/usr/bin/python3 # Debian's, where python3-numpy and python3-scipy install

if [ ! -x /usr/bin/time ]; then
    echo "bench_speed.sh: /usr/bin/time missing: run scripts/setup.sh (package time)" >&2
    exit 2
fi
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNF_SHARED_DIR="$SHARED" >/dev/null
cmake --build "$BUILD" --target newsfold_cli -j "$(nproc)" >/dev/null
mkdir -p "$DATA"

datasketch_ready() {
    [ -n "${DATASKETCH_DIR:-}" ] && [ -d "$DATASKETCH_DIR/datasketch" ] || {
        echo "datasketch: skipped (set DATASKETCH_DIR to a checkout of https://github.com/ekzhu/datasketch)"
        return 1
    }
    if ! "$PY" -c 'import numpy, scipy' 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get install -y python3-numpy python3-scipy >/dev/null 2>&1 ||
                { apt-get update >/dev/null 2>&1 && apt-get install -y python3-numpy python3-scipy >/dev/null 2>&1; } || true
        fi
        "$PY" -c 'import numpy, scipy' 2>/dev/null || {
            echo "datasketch: skipped (python3-numpy and python3-scipy not installed and cannot be)"
            return 1
        }
    fi
}

# timed OUT_PREFIX CMD...: runs CMD under /usr/bin/time; sets T_WALL T_CPU T_RSS (best of $RUNS)
timed() {
    local best_wall="" best_cpu="" best_rss="" tf
    tf=$(mktemp)
    for _ in $(seq "$RUNS"); do
        if ! /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >/dev/null 2>"$tf.err"; then
            echo "bench_speed.sh: failed: $*" >&2
            tail -n 5 "$tf.err" >&2
            rm -f "$tf" "$tf.err"
            return 1
        fi
        read -r wall user sys rss <"$tf"
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        best_wall=$(awk -v a="$wall" -v b="${best_wall:-1e99}" 'BEGIN { print (a < b) ? a : b }')
        best_cpu=$(awk -v a="$cpu" -v b="${best_cpu:-1e99}" 'BEGIN { print (a < b) ? a : b }')
        best_rss=$(awk -v a="$rss" -v b="${best_rss:-1e99}" 'BEGIN { print (a < b) ? a : b }')
    done
    rm -f "$tf" "$tf.err"
    T_WALL=$best_wall T_CPU=$best_cpu T_RSS=$best_rss
}

wc_time() {
    timed env LC_ALL=C.UTF-8 wc -w "$1"
    WC_WALL=$T_WALL WC_CPU=$T_CPU
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
have_datasketch=0
if [[ " $COMMANDS " == *" dedup "* ]] && datasketch_ready; then have_datasketch=1; fi

for size in "${SIZES[@]}"; do
    corpus=$DATA/rc${size}m.jsonl
    [ -s "$corpus" ] || python3 "$SHARED/bench/recombine.py" "$corpus" "$size" "$SHARED"/data/wmt21/*/docs.jsonl >/dev/null
    bytes=$(stat -c %s "$corpus")
    docs=$(wc -l <"$corpus")
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
    echo
    echo "corpus: $corpus, $mb MB, $docs docs"
    printf '%-7s %3s %8s %8s %8s %9s %9s %10s %10s\n' command -j wall_s cpu_s MB/s docs/s RSS_MB x_wc_wall x_wc_cpu
    out=$(mktemp -d)
    for cmd in $COMMANDS; do
        for j in $THREADS; do
            wc_time "$corpus"
            case "$cmd" in
            run) timed "$NF" run -q "-j$j" -o "$out/run" "$corpus" ;;
            *) timed "$NF" "$cmd" -q "-j$j" -o /dev/null "$corpus" ;;
            esac
            awk -v c="$cmd" -v j="$j" -v w="$T_WALL" -v u="$T_CPU" -v r="$T_RSS" -v b="$bytes" -v d="$docs" \
                -v ww="$WC_WALL" -v wu="$WC_CPU" 'BEGIN {
                    w1 = w > 0 ? w : 0.01; ww1 = ww > 0 ? ww : 0.01; wu1 = wu > 0 ? wu : 0.01
                    printf "%-7s %3d %8.2f %8.2f %8.1f %9.0f %9.1f %10.1f %10.1f\n", c, j, w, u, b / 1048576 / w1,
                           d / w1, r / 1024, w / ww1, u / wu1 }'
            if [ "$cmd" = dedup ] && [ "$j" = 1 ]; then DEDUP_WALL=$T_WALL DEDUP_CPU=$T_CPU; fi
        done
    done
    rm -rf "$out"
    if [ "$have_datasketch" = 1 ]; then
        timed "$PY" bench/datasketch_dedup.py "$DATASKETCH_DIR" "$corpus"
        awk -v w="$T_WALL" -v u="$T_CPU" -v r="$T_RSS" -v dw="${DEDUP_WALL:-0}" -v du="${DEDUP_CPU:-0}" 'BEGIN {
            fmt = "datasketch (1 thread): wall %.2f s, cpu %.2f s, RSS %.1f MB; newsfold dedup -j1 is %.1fx faster (wall), %.1fx (cpu)\n"
            printf(fmt, w, u, r / 1024, dw > 0 ? w / dw : 0, du > 0 ? u / du : 0) }'
    fi
done
