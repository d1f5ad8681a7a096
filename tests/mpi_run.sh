#!/usr/bin/env bash
# mpi_run.sh - `mpirun -np N newsfold run --mpi` writes the bytes of the
# single process (documents.jsonl, events.jsonl, storylines.jsonl,
# report.html, exit status, the messages naming skipped records) for
# N = 1..4 on the examples, the seeds, og2021-dev headlines (title-only
# records: the event stage's headline pivots) and a WMT21 corpus whose
# translations lie in other batches, files and byte ranges than their
# sources, exact copies in another rank's file; rank 1 sends rank 0 no
# dedup items; and a failing rank never leaves the others waiting (a
# killed rank; a fatal error on one rank of three). Registered only when
# MPI support is built.
# usage: mpi_run.sh NEWSFOLD SHARED_DIR SOURCE_DIR
nf=$1 shared=$2 src=$3
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/mpi_lib.sh"
export NF="$nf" T="$tmp" SRC="$src"
outputs=(documents.jsonl events.jsonl storylines.jsonl report.html)

# same NAME RANKS ARGS...: single process and each N in RANKS give the same bytes and status
same() {
    local name=$1 ranks=$2
    shift 2
    rm -rf "$tmp/one"
    "$nf" run -q -j1 "$@" -o "$tmp/one" 2>"$tmp/one.err"
    local want=$?
    for n in $ranks; do
        rm -rf "$tmp/mpi"
        "${mpirun[@]}" -np "$n" "$nf" run --mpi -q -j1 "$@" -o "$tmp/mpi" >"$tmp/mpi.out" 2>"$tmp/mpi.err"
        local got=$?
        check "$name N=$n exit $got (single $want)" [ $got -eq $want ]
        for f in "${outputs[@]}"; do
            check "$name N=$n $f" cmp -s "$tmp/one/$f" "$tmp/mpi/$f"
        done
        check "$name N=$n messages" cmp -s <(grep '^newsfold' "$tmp/one.err" | sort) \
            <(grep '^newsfold' "$tmp/mpi.err" | sort)
    done
}

same examples "1 2 3 4" --batch 3 "$src/examples/corpus"
same "examples, default batch" "2" "$src/examples/corpus"
if [ -d "$shared/seeds" ]; then
    same seeds "1 2 3 4" --batch 2 "$shared/seeds"
else
    echo "seeds missing: $shared/seeds (skipped)"
fi
og="$shared/data/og2021-dev/docs.jsonl"
if [ -f "$og" ]; then
    head -n 1200 "$og" > "$tmp/og.jsonl"
    same "og2021-dev headlines" "1 3" --batch 150 "$tmp/og.jsonl"
else
    echo "og2021-dev missing: $og (skipped)"
fi
wmt=("$shared"/data/wmt21/*/docs.jsonl)
if [ -f "${wmt[0]}" ]; then
    awk '/"id": "[^"]*\|(src|ref:A|mt:Online-A)"/ { if ($0 ~ /\|src"/) print; else b[nb++] = $0 }
         END { for (i = nb - 1; i >= 0; i--) print b[i] }' "${wmt[@]}" > "$tmp/mix.jsonl"
    same "WMT one file" "2 4" --batch 16 "$tmp/mix.jsonl"
    rm -rf "$tmp/one" "$tmp/mpi"
    "$nf" run -q -j2 --batch 16 "$tmp/mix.jsonl" -o "$tmp/one"
    "${mpirun[@]}" -np 3 "$nf" run --mpi -q -j2 --batch 16 "$tmp/mix.jsonl" -o "$tmp/mpi" 2>/dev/null
    check "WMT N=3 -j2" cmp -s "$tmp/one/documents.jsonl" "$tmp/mpi/documents.jsonl"
else
    echo "WMT21 missing: $shared/data/wmt21 (skipped)"
fi

# dedup groups across the ranks: exact copies of a file's documents in
# another file (read by another rank), short and empty documents
mkdir -p "$tmp/copies"
cat "$src"/examples/corpus/*.jsonl | head -8 > "$tmp/copies/a.jsonl"
printf '%s\n' '{"id":"short1","text":"Hi.","title":"x"}' '{"id":"empty1","text":"","title":""}' >> "$tmp/copies/a.jsonl"
cat "$src"/examples/corpus/*.jsonl | head -8 | sed 's/"id": *"/"id": "copy-/' > "$tmp/copies/b.jsonl"
same "copies across ranks" "2 3" --batch 5 "$tmp/copies"
check "copies across ranks: exact copies found" grep -q '"relation":"exact"' "$tmp/mpi/documents.jsonl"

# bad records: named on stderr once, skipped, exit 1, the rest identical
mkdir -p "$tmp/bad"
cat "$src"/examples/corpus/*.jsonl | head -14 > "$tmp/bad/a.jsonl"
echo '{"id": "broken", "text": ' >> "$tmp/bad/a.jsonl"
cat "$src"/examples/corpus/*.jsonl | sed -n '15,$p' >> "$tmp/bad/a.jsonl"
same "bad record" "1 3" --batch 4 "$tmp/bad"
check "bad record named with file and line" grep -q 'a.jsonl:15: invalid JSON' "$tmp/mpi.err"
check "bad record: exit 1" [ "$(grep -c . "$tmp/mpi/documents.jsonl")" -gt 0 ]

# rank 1 sends rank 0 no dedup items (about 1 KB a document) and no
# pivots: dedup finishes across the ranks, and rank 0 receives only the
# assignments of the documents that are not unique alone (24 bytes each)
sent_by_1() { # ARGS...: "DOCS SENT" of rank 1 of 2
    "${mpirun[@]}" -np 2 "$nf" run --mpi -q -j1 --stats --batch 3 "$@" "$src/examples/corpus" -o "$tmp/sent" 2>&1 |
        sed -n 's/.*rank 1\/2: .*(\([0-9]*\) docs).* sent \([0-9]*\) B.*/\1 \2/p'
}
read -r docs1 with <<<"$(sent_by_1)"
read -r _ without <<<"$(sent_by_1 --no-dedup)"
check "rank 1 read documents ($docs1)" [ "${docs1:-0}" -gt 0 ]
check "rank 1 sent its batches (${with:-0} B)" [ "${with:-0}" -gt 0 ]
check "rank 1 sends no dedup items ($with - $without B for $docs1 docs)" \
    [ $(( (${with:-0} - ${without:-0}) / ${docs1:-1} )) -le 32 ]

# --db writes a store from the texts: not with --mpi
status_is 2 "${mpirun[@]}" -np 1 "$nf" run --mpi -q --db "$tmp/x.db" "$src/examples/corpus" -o "$tmp/db"
check "--db with --mpi refused" grep -q -- '--db is not available with --mpi' "$tmp/err"

# a killed rank: rank 0 waits for rank 1's batch inside MPI (the outputs
# are a folder: killed_rank checks that no out.jsonl appears)
killed_rank run 3

# a fatal error on rank 2 of 3 (its TMPDIR does not exist)
broken_rank run 'cannot create'

finish mpi_run
