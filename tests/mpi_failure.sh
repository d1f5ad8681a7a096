#!/usr/bin/env bash
# mpi_failure.sh - a failing rank never leaves the others waiting:
# 1. rank 1 is killed (SIGKILL) while rank 0 waits for it inside MPI:
#    mpirun ends within seconds, with a non-zero status and a message
#    naming the dead rank; no output file is left behind;
# 2. ranks that list different inputs: every rank says so and the job stops;
# 3. a fatal error on one rank (an unusable --tmp-dir there) stops all ranks.
# Registered only when MPI support is built.
# usage: mpi_failure.sh NEWSFOLD SOURCE_DIR
nf=$1 src=$2
. "$(dirname "$0")/cli_lib.sh"
command -v mpirun >/dev/null || { echo "mpirun missing (openmpi-bin)"; exit 77; }
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Under ASan: LeakSanitizer cannot attribute what Open MPI's plugins keep
# from MPI_Init (they are unloaded before the leak check), so leak detection
# is off for the ranks; every other check stays on.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export NF="$nf" T="$tmp" SRC="$src"

# 1. The input ends with a FIFO that the test holds open and never writes
# (zz.json, read whole by the last rank): rank 1 blocks in reading it, so
# rank 0 waits for rank 1 inside MPI.
mkfifo "$tmp/zz.json"
exec 3<>"$tmp/zz.json"
start=$(date +%s)
"${mpirun[@]}" -np 2 bash -c '
    echo $$ > "$T/pid.$OMPI_COMM_WORLD_RANK"
    exec "$NF" dedup --mpi -q --batch 3 -o "$T/out.jsonl" "$SRC/examples/corpus" "$T/zz.json"' >"$tmp/kill.out" 2>"$tmp/kill.err" &
mpirun_pid=$!
for _ in $(seq 100); do [ -s "$tmp/pid.1" ] && [ -s "$tmp/pid.0" ] && break; sleep 0.1; done
sleep 2 # rank 0 has scanned its part and waits for rank 1 in MPI
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

# 2. different inputs: rank 1 reads one file fewer
status_is 2 "${mpirun[@]}" -np 2 bash -c '
    if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$NF" dedup --mpi -q --batch 2 "$SRC/examples/corpus/coastwire.jsonl"; fi
    exec "$NF" dedup --mpi -q --batch 2 "$SRC/examples/corpus"'
check "different inputs: exit 2" [ $? -eq 0 ]
check "different inputs: named" grep -q 'rank [0-9]: MPI: the ranks see different inputs' "$tmp/err"

# 3. a fatal error on rank 2 of 3 (its --tmp-dir does not exist)
start=$(date +%s)
status_is 2 "${mpirun[@]}" -np 3 bash -c '
    tmpdir="$T"; [ "$OMPI_COMM_WORLD_RANK" = 2 ] && tmpdir="$T/missing"
    exec "$NF" dedup --mpi -q --batch 2 --tmp-dir "$tmpdir" "$SRC/examples/corpus"'
check "fatal error on one rank: exit 2" [ $? -eq 0 ]
check "fatal error on one rank: rank named" grep -q 'rank 2' "$tmp/err"
check "fatal error on one rank: ends within seconds" [ $(($(date +%s) - start)) -le 20 ]

finish mpi_failure
