# mpi_lib.sh - what the MPI tests share; sourced after cli_lib.sh, not run.
# Skips the test (status 77) without mpirun. Sets:
#   mpirun=(...)            mpirun --oversubscribe (--allow-run-as-root as root)
# and the environment every rank needs here. Offers:
#   killed_rank CMD SETTLE  `newsfold CMD --mpi` on 2 ranks, rank 1 killed
#                           (SIGKILL) while rank 0 waits for it inside MPI;
#                           checks that mpirun ends within seconds, non-zero,
#                           naming the dead rank, and leaves no output file.
#                           SETTLE: seconds rank 0 gets to reach its wait.
#                           Needs NF, T (a temporary folder) and SRC exported.
#   broken_rank CMD WANT    `newsfold CMD --mpi` on 3 ranks where rank 2's
#                           temporary folder ($TMPDIR) does not exist: checks
#                           exit 2 within seconds, the message
#                           "CMD: rank 2: WANT..." and no output left.
#                           Needs NF, T and SRC exported.
command -v mpirun >/dev/null || { echo "mpirun missing (openmpi-bin)"; exit 77; }
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none # containers forbid cross-process memory access
# Under ASan: LeakSanitizer cannot attribute what Open MPI's plugins keep
# from MPI_Init (they are unloaded before the leak check), so leak detection
# is off for the ranks; every other check stays on.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# The input ends with a FIFO that the test holds open and never writes
# (zz.json, read whole by the last rank): rank 1 blocks in reading it, so
# rank 0 waits for rank 1 inside MPI.
killed_rank() {
    local cmd=$1 settle=$2 mpirun_pid rc start elapsed
    export CMD="$cmd"
    mkfifo "$T/zz.json"
    exec 3<>"$T/zz.json"
    start=$(date +%s)
    "${mpirun[@]}" -np 2 bash -c '
        echo $$ > "$T/pid.$OMPI_COMM_WORLD_RANK"
        exec "$NF" "$CMD" --mpi -q --batch 3 -o "$T/out.jsonl" "$SRC/examples/corpus" "$T/zz.json"' \
        >"$T/kill.out" 2>"$T/kill.err" &
    mpirun_pid=$!
    for _ in $(seq 100); do [ -s "$T/pid.1" ] && [ -s "$T/pid.0" ] && break; sleep 0.1; done
    sleep "$settle" # rank 0 has done its part and waits for rank 1 in MPI
    check "rank 0 still running before the kill" kill -0 "$(cat "$T/pid.0")"
    kill -KILL "$(cat "$T/pid.1")"
    for _ in $(seq 300); do kill -0 $mpirun_pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $mpirun_pid 2>/dev/null; then
        check "mpirun ends within 30 s of a rank's death (it hangs)" false
        kill -KILL $mpirun_pid
        kill -KILL "$(cat "$T/pid.0")" 2>/dev/null
    fi
    wait $mpirun_pid
    rc=$?
    elapsed=$(($(date +%s) - start))
    exec 3>&-
    check "dead rank: mpirun exits non-zero (got $rc)" [ $rc -ne 0 ]
    check "dead rank: mpirun ends within seconds (${elapsed}s)" [ "$elapsed" -le 20 ]
    check "dead rank: the message names the rank and the signal" grep -qiE 'rank 1.*(signal 9|killed)|signal 9' "$T/kill.err"
    sleep 1
    check "dead rank: rank 0 did not survive" mpi_dead "$(cat "$T/pid.0")"
    check "dead rank: no output file" [ ! -e "$T/out.jsonl" ]
}

broken_rank() {
    local cmd=$1 want=$2 start
    export CMD="$cmd"
    start=$(date +%s)
    status_is 2 "${mpirun[@]}" -np 3 bash -c '
        [ "$OMPI_COMM_WORLD_RANK" = 2 ] && export TMPDIR="$T/missing"
        exec "$NF" "$CMD" --mpi -q --batch 2 -o "$T/out2" "$SRC/examples/corpus"'
    check "fatal error on one rank: exit 2" [ $? -eq 0 ]
    check "fatal error on one rank: rank named" grep -q "$cmd: rank 2: $want" "$T/err"
    check "fatal error on one rank: ends within seconds" [ $(($(date +%s) - start)) -le 20 ]
    check "fatal error on one rank: no output" [ ! -e "$T/out2" ]
}

mpi_dead() { # zombies are dead
    local st
    ! { st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]; }
}
