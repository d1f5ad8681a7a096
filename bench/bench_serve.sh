#!/usr/bin/env bash
# bench_serve.sh - load figures of `newsfold serve` at N stored documents.
#
#   bench/bench_serve.sh NEWSFOLD N [SHARED] [WORKDIR]
#
# 1. a corpus of N documents (bench_serve.mjs corpus: the og2021-dev headlines
#    and wmt21 articles of SHARED/data, repeated in rounds 40 days apart);
# 2. `newsfold run --db` writes the store (on disk, WORKDIR; PREFILL=post or
#    a failing run: POSTed through the API in batches of LOAD_BATCH instead);
#    `newsfold serve` opens it: the replay time is what a restart costs;
# 3. ingest: 16 clients POST JSONL batches of B documents for 20 s (B = 1 and
#    25): documents/s and request latency p50/p99;
# 4. reads: wrk (2 threads, 8 connections, 10 s, --latency) on the events
#    list, one event, a search, and the events list while 16 clients ingest.
# Prints a Markdown table. Wall times: run it on a quiet machine.
set -euo pipefail
bin=$(realpath "$1"); n=$2
shared=$(realpath "${3:-$(dirname "$0")/../../shared}")
work=${4:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work" && cd "$work"
command -v wrk >/dev/null || { echo "bench_serve: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

node "$here/bench_serve.mjs" corpus "$shared" "$n" > corpus.jsonl
rm -f store.db store.db-wal store.db-shm
prefill=run
t0=$(date +%s.%N)
if [ "${PREFILL:-run}" = run ] && "$bin" run -q -j "$(nproc)" --db store.db -o run-out corpus.jsonl; then
  t1=$(date +%s.%N)
  prefill_line=$(printf '| run --db (batch fold + store) | %.1f s |' "$(echo "$t1 - $t0" | bc)")
else
  prefill=post
  rm -f store.db store.db-wal store.db-shm
fi
start_serve() {
  "$bin" serve --db store.db --listen 127.0.0.1:0 2> serve.log &
  pid=$!
  until grep -q listening serve.log; do sleep 0.5; kill -0 $pid || { cat serve.log; exit 1; }; done
  url=$(grep -o 'http://[0-9.]*:[0-9]*' serve.log)
}
trap 'kill $pid 2>/dev/null || true' EXIT
start_serve
if [ $prefill = post ]; then  # through the API: POST the corpus in batches, then restart
  r=$(node "$here/bench_serve.mjs" load "$url" corpus.jsonl "${LOAD_BATCH:-2500}")
  prefill_line="| prefill through POST, ${LOAD_BATCH:-2500} documents a request | $r |"
  kill $pid; wait $pid || true
  start_serve
fi
replay=$(grep -o 'replayed in [0-9]* ms' serve.log | grep -o '[0-9]*')
echo "| $n documents | |"
echo "|---|---|"
echo "$prefill_line"
echo "| serve start (replay into a live fold) | $((replay / 1000)).$(( (replay % 1000) / 100 )) s |"
echo "| store size | $(du -h store.db | cut -f1) |"
for b in 1 25; do
  r=$(node "$here/bench_serve.mjs" ingest "$url" "$shared" 20 16 $b)
  echo "| ingest, 16 clients x $b docs/request | $(echo "$r" | sed 's/.*"docs_per_s":\([0-9.]*\).*"p50_ms":\([0-9.]*\),"p99_ms":\([0-9.]*\).*/\1 docs\/s, request p50 \2 ms, p99 \3 ms/') |"
done
read_lat() { wrk -t2 -c8 -d10s --latency "$url$1" | awk '/^ +50%/{p50=$2} /^ +99%/{p99=$2} /Requests\/sec/{rps=$2} END{printf "p50 %s, p99 %s, %s req/s", p50, p99, rps}'; }
eid=$(curl -s "$url/api/events?limit=1" | grep -o '"id":"E[0-9]*"' | head -1 | grep -o 'E[0-9]*')
echo "| GET /api/events?limit=20 | $(read_lat '/api/events?limit=20') |"
echo "| GET /api/events/$eid | $(read_lat "/api/events/$eid") |"
echo "| GET /api/search?q=Olympic | $(read_lat '/api/search?q=Olympic') |"
node "$here/bench_serve.mjs" ingest "$url" "$shared" 12 16 25 > ingest-during-reads.json &
ipid=$!
sleep 1
echo "| GET /api/events?limit=20 during ingest | $(read_lat '/api/events?limit=20') |"
wait $ipid || true
echo "| (ingest meanwhile) | $(cat ingest-during-reads.json) |"
