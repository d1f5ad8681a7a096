#!/usr/bin/env bash
# mpi_links_failure.sh - a failing rank of `links --mpi` never leaves the
# others waiting:
# 1. rank 1 is killed (SIGKILL) while rank 0 waits for its batches inside
#    MPI: mpirun ends within seconds, non-zero, naming the dead rank; no
#    output file is left behind;
# 2. a fatal error on one rank of three (its TMPDIR, where it spills its
#    pivots and ids, does not exist) stops all ranks, naming it.
# Registered only when MPI support is built.
# usage: mpi_links_failure.sh NEWSFOLD SOURCE_DIR
nf=$1 src=$2
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/mpi_lib.sh"
export NF="$nf" T="$tmp" SRC="$src"

# 1. a killed rank: rank 0 has built its pivots and waits for rank 1's
killed_rank links 3

# 2. a fatal error on rank 2 of 3 (its TMPDIR does not exist)
broken_rank links 'cannot create a temporary file'

finish mpi_links_failure
