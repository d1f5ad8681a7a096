#!/usr/bin/env bash
# mpi_failure.sh - a failing rank never leaves the others waiting:
# 1. rank 1 is killed (SIGKILL) while rank 0 waits for it inside MPI:
#    mpirun ends within seconds, with a non-zero status and a message
#    naming the dead rank; no output file is left behind;
# 2. ranks that list different inputs: every rank says so and the job stops;
# 3. a fatal error on one rank (an unusable temporary folder there) stops all ranks.
# Registered only when MPI support is built.
# usage: mpi_failure.sh NEWSFOLD SOURCE_DIR
nf=$1 src=$2
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/mpi_lib.sh"
export NF="$nf" T="$tmp" SRC="$src"

# 1. a killed rank
killed_rank dedup 2

# 2. different inputs: rank 1 reads one file fewer
status_is 2 "${mpirun[@]}" -np 2 bash -c '
    if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$NF" dedup --mpi -q --batch 2 "$SRC/examples/corpus/coastwire.jsonl"; fi
    exec "$NF" dedup --mpi -q --batch 2 "$SRC/examples/corpus"'
check "different inputs: exit 2" [ $? -eq 0 ]
check "different inputs: named" grep -q 'rank [0-9]: MPI: the ranks see different inputs' "$tmp/err"

# 3. a fatal error on rank 2 of 3 (its temporary folder does not exist)
broken_rank dedup 'cannot create'

finish mpi_failure
