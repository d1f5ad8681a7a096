#!/usr/bin/env bash
# bench_events.sh - throughput (docs/s) and peak RSS of the event stage alone
# (features, streaming clustering, entities, storylines) on news-length
# documents: WMT21 versions and article-extraction bodies from the shared
# folder, replayed as perturbed copies over simulated days (bench_events.c).
#
#   bench/bench_events.sh                    # 100,000 and 200,000 documents, 1 thread,
#                                            # then 100,000 headlines (og2021-dev titles)
#   BENCH_DOCS="400000" BENCH_HEADLINES="" bench/bench_events.sh
#   SHARED=/path/to/shared bench/bench_events.sh
#
# Two sizes show that memory follows the live window, not the corpus: the
# peak RSS grows only by the per-document metadata the result keeps (ids,
# titles, event numbers), about 100 bytes a document.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=build-bench
SHARED=${SHARED:-../shared}
DOCS=${BENCH_DOCS-"100000 200000"}
HEADLINES=${BENCH_HEADLINES-"100000"}

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$BUILD" --target bench_events >/dev/null

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
for n in $DOCS; do
    "$BUILD/bench_events" "$SHARED" "$n" 1
done
for n in $HEADLINES; do
    "$BUILD/bench_events" "$SHARED" "$n" 1 headlines
done
