#!/usr/bin/env bash
# mpi_links_failure.sh - a failing rank of `links --mpi` never leaves the
# others waiting:
# 1. rank 1 is killed (SIGKILL) while rank 0 waits for its pivots inside
#    MPI: mpirun ends within seconds, non-zero, naming the dead rank; no
#    output file is left behind;
# 2. a fatal error on one rank of three (its TMPDIR, where it keeps its
#    pivots until rank 0 asks, does not exist) stops all ranks, naming it.
# Registered only when MPI support is built.
# usage: mpi_links_failure.sh NEWSFOLD SOURCE_DIR
nf=$1 src=$2
. "$(dirname "$0")/cli_lib.sh"
command -v mpirun >/dev/null || { echo "mpirun missing (openmpi-bin)"; exit 77; }
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # see mpi_dedup.sh
export NF="$nf" T="$tmp" SRC="$src"

# 1. The input ends with a FIFO the test holds open and never writes
# (zz.json, read whole by the last rank): rank 1 blocks reading it while
# rank 0 has built its pivots and waits for rank 1's.
mkfifo "$tmp/zz.json"
exec 3<>"$tmp/zz.json"
start=$(date +%s)
"${mpirun[@]}" -np 2 bash -c '
    echo $$ > "$T/pid.$OMPI_COMM_WORLD_RANK"
    exec "$NF" links --mpi -q --batch 3 -o "$T/out.jsonl" "$SRC/examples/corpus" "$T/zz.json"' >"$tmp/kill.out" 2>"$tmp/kill.err" &
mpirun_pid=$!
for _ in $(seq 100); do [ -s "$tmp/pid.1" ] && [ -s "$tmp/pid.0" ] && break; sleep 0.1; done
sleep 3 # rank 0 has scanned its part and waits for rank 1 in MPI
check "rank 0 still running before the kill" kill -0 "$(cat "$tmp/pid.0")"
kill -KILL "$(cat "$tmp/pid.1")"
for _ in $(seq 300); do kill -0 $mpirun_pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $mpirun_pid 2>/dev/null; then
    check "mpirun ends within 30 s of a rank's death (it hangs)" false
    kill -KILL $mpirun_pid
    kill -KILL "$(cat "$tmp/pid.0")" 2>/dev/null
fi
wait $mpirun_pid
rc=$?
elapsed=$(($(date +%s) - start))
exec 3>&-
check "dead rank: mpirun exits non-zero (got $rc)" [ $rc -ne 0 ]
check "dead rank: mpirun ends within seconds (${elapsed}s)" [ "$elapsed" -le 20 ]
check "dead rank: the message names the rank and the signal" grep -qiE 'rank 1.*(signal 9|killed)|signal 9' "$tmp/kill.err"
sleep 1
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]; } # zombies are dead
dead() { ! alive "$1"; }
check "dead rank: rank 0 did not survive" dead "$(cat "$tmp/pid.0")"
check "dead rank: no output file" [ ! -e "$tmp/out.jsonl" ]

# 2. a fatal error on rank 2 of 3 (its TMPDIR does not exist)
start=$(date +%s)
status_is 2 "${mpirun[@]}" -np 3 bash -c '
    [ "$OMPI_COMM_WORLD_RANK" = 2 ] && export TMPDIR="$T/missing"
    exec "$NF" links --mpi -q --batch 2 -o "$T/out2.jsonl" "$SRC/examples/corpus"'
check "fatal error on one rank: exit 2" [ $? -eq 0 ]
check "fatal error on one rank: rank named" grep -q 'links: rank 2: cannot create a temporary file' "$tmp/err"
check "fatal error on one rank: ends within seconds" [ $(($(date +%s) - start)) -le 20 ]
check "fatal error on one rank: no output file" [ ! -e "$tmp/out2.jsonl" ]

finish mpi_links_failure
