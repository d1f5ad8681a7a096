#!/usr/bin/env bash
# bench_mpi.sh - `newsfold dedup --mpi` (or CMD=links: `links --mpi`; CMD=run:
# `run --mpi`)
# against the single process: wall
# time and throughput at N = 1 and 2 ranks (one thread each), bytes
# exchanged per document, and peak RSS per rank, at two corpus sizes
# (FILES, default bench/data/rc20m.jsonl and rc100m.jsonl: JSONL made by
# bench/make_corpus.py; the first SIZES MB of corpus-mpi.jsonl otherwise).
#
#   bench/bench_mpi.sh                              # RUNS=1
#   RUNS=3 FILES="bench/data/rc20m.jsonl" bench/bench_mpi.sh
#   BATCH=1024 bench/bench_mpi.sh                   # --batch 1024 everywhere
#   MEM=32M BATCH=1024 bench/bench_mpi.sh           # --mem-limit 32M: the sorters
#                                                   # spill at both sizes (flat RSS)
#   CMD=links FILES=bench/data/rc20m.jsonl bench/bench_mpi.sh # links --mpi (distributed finish)
#   CMD=run FILES=bench/data/rc20m.jsonl bench/bench_mpi.sh   # run --mpi (dedup and links finish
#                                                             # across the ranks, events on rank 0)
#
# Each block: file size, mode, best wall time, MB/s of document text, then
# per rank (from --stats): documents scanned in its byte range, batches and
# documents it cleaned and sketched, bytes it sent in the all-to-all
# exchanges (ids and positions; dedup: exact hashes, band keys and samples,
# pairs, fetched metadata and signatures, labels) and to rank 0 (dedup: its
# output records; links: ids; run: event features, the pivots' feature
# hashes and counts, dedup assignments), the CPU seconds of its steps
# (finish: the distributed finishes; run: and on rank 0 the event stream),
# peak RSS, and the CPU seconds of each process
# (user+system, through /usr/bin/time); then the bytes all ranks sent per
# document (exchanges and to rank 0). The
# output of every MPI run is compared with the single process (it must be
# identical). Needs a build with MPI (BENCH_BUILD, default build-mpi), or
# NF=path/to/newsfold (a binary of another commit, for before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BENCH_BUILD:-build-mpi}
FILES=${FILES:-"bench/data/rc20m.jsonl bench/data/rc100m.jsonl"}
SIZES=${SIZES:-}
RUNS=${RUNS:-1}
CMD=${CMD:-dedup} # dedup, links or run (run's output is a folder: compared file by file)
batch=()
[ -n "${BATCH:-}" ] && batch=(--batch "$BATCH") # a smaller batch shows flat RSS on small files
[ -n "${MEM:-}" ] && batch+=(--mem-limit "$MEM") # dedup and run: the sorters' memory
SHARED=${SHARED:-../shared}
CORPUS=${CORPUS:-bench/data/corpus-mpi.jsonl} # 60 MB, made once (git-ignored)
if [ -n "${NF:-}" ]; then # a binary built elsewhere (an earlier commit, for before/after)
    nf=$NF
else
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" --target newsfold_cli -j2 >/dev/null
    nf=$BUILD/newsfold
fi
[ -z "$SIZES" ] || [ -s "$CORPUS" ] || python3 bench/make_corpus.py --shared "$SHARED" --size-mb 60 --out "$CORPUS"
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# CPU seconds per process (the machine may be shared: CPU time is what
# one core costs whatever the load; wall time is printed too)
timer=()
# shellcheck disable=SC2016 # expanded by each rank's bash
[ -x /usr/bin/time ] && timer=(bash -c 'exec /usr/bin/time -f "cpu rank ${OMPI_COMM_WORLD_RANK:-single}: %U+%S s, max RSS %M KB" "$@"' timer)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best MODE: runs RUNS times, keeps the fastest wall time and its stderr
best() {
    local mode=$1 part=$2 t0 t1 secs best_s=
    for _ in $(seq "$RUNS"); do
        t0=$(date +%s.%N)
        case $mode in
        single-j1) "${timer[@]}" "$nf" "$CMD" -q -j1 --stats "${batch[@]}" "$part" -o "$tmp/$mode.out" 2>"$tmp/err" ;;
        single-j2) "${timer[@]}" "$nf" "$CMD" -q -j2 --stats "${batch[@]}" "$part" -o "$tmp/$mode.out" 2>"$tmp/err" ;;
        mpi-np*) "${mpirun[@]}" -np "${mode#mpi-np}" "${timer[@]}" "$nf" "$CMD" --mpi -q -j1 --stats "${batch[@]}" "$part" -o "$tmp/$mode.out" \
            2>"$tmp/err" ;;
        esac
        t1=$(date +%s.%N)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        if [ -z "$best_s" ] || awk -v a="$secs" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
            best_s=$secs
            cp "$tmp/err" "$tmp/$mode.err"
        fi
    done
    local docs mb
    docs=$(grep -m1 -o "stats: $CMD: [0-9]* docs" "$tmp/$mode.err" | grep -o '[0-9]*')
    mb=$(grep -m1 -o 'docs, [0-9.]* MB' "$tmp/$mode.err" | grep -o '[0-9.]* MB' | cut -d' ' -f1)
    printf '%s MB file  %-10s %7.2f s  %6.2f MB/s  %d docs\n' "$3" "$mode" "$best_s" "$(awk -v a="$mb" -v b="$best_s" 'BEGIN { print a / b }')" "$docs"
    grep -o 'rank [0-9]*/[0-9]*: .*' "$tmp/$mode.err" | sort | sed 's/^/      /' || true
    grep -o 'peak RSS [0-9.]* MB' "$tmp/$mode.err" | sed 's/^/      /' | tr '\n' ' '
    grep -o 'cpu rank .*' "$tmp/$mode.err" | sort | sed 's/^/      /'
    if [ "${mode#mpi}" != "$mode" ]; then
        grep -o 'exchanged [0-9]* B, sent [0-9]* B' "$tmp/$mode.err" | grep -o '[0-9]*' |
            awk -v d="$docs" '{ s += $1 } END { printf "      sent per document: %.0f B (exchanges and to rank 0)\n", s / d }'
    fi
    echo
    if [ "$mode" != single-j1 ] && ! diff -r -q "$tmp/single-j1.out" "$tmp/$mode.out" >/dev/null; then
        echo "bench_mpi: $mode output differs from the single process" >&2
        exit 1
    fi
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ); $CMD RUNS=$RUNS ${batch[*]:-}"
parts=()
for size in $SIZES; do
    head -c "$((size * 1000000))" "$CORPUS" | sed '$d' >"$tmp/first-${size}mb.jsonl"
    parts+=("$tmp/first-${size}mb.jsonl")
done
for f in $FILES; do parts+=("$f"); done
for part in "${parts[@]}"; do
    size=$(($(stat -c %s "$part") / 1000000))
    for mode in single-j1 single-j2 mpi-np1 mpi-np2; do
        best "$mode" "$part" "$size"
    done
done
