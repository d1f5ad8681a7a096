#!/usr/bin/env bash
# mpi_unavailable.sh - a build without MPI: `dedup --mpi`, `links --mpi` and `run --mpi`
# say so (exit 2) and the plain commands still work. Registered only when MPI is not built.
# usage: mpi_unavailable.sh NEWSFOLD SOURCE_DIR
nf=$1 src=$2
. "$(dirname "$0")/cli_lib.sh"
status_is 2 "$nf" dedup --mpi -q "$src/examples/corpus"
check "--mpi without MPI: exit 2" [ $? -eq 0 ]
check "--mpi without MPI: says so" grep -q 'built without MPI' "$tmp/err"
status_is 0 "$nf" dedup -q "$src/examples/corpus"
check "plain dedup still works" [ $? -eq 0 ]
status_is 2 "$nf" links --mpi -q "$src/examples/corpus"
check "links --mpi without MPI: exit 2" [ $? -eq 0 ]
check "links --mpi without MPI: says so" grep -q 'built without MPI' "$tmp/err"
status_is 0 "$nf" links -q "$src/examples/corpus"
check "plain links still works" [ $? -eq 0 ]
status_is 2 "$nf" run --mpi -q "$src/examples/corpus" -o "$tmp/run"
check "run --mpi without MPI: exit 2" [ $? -eq 0 ]
check "run --mpi without MPI: says so" grep -q 'built without MPI' "$tmp/err"
finish mpi_unavailable
