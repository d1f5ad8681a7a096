#!/usr/bin/env bash
# mpi_links.sh - `mpirun -np N newsfold links --mpi` gives the bytes of the
# single process (pairs, --groups, exit status, the messages naming skipped
# records) for N = 1..4 on the examples, the seeds, and a corpus of WMT21
# documents (de-fr and fr-de: source, reference and one system output)
# whose translations lie in other batches, other files and other byte
# ranges than their sources, so they cross shard boundaries for every N.
# The finish is distributed (document frequencies, postings, candidate
# pairs, scoring, best matches cross the ranks); a Debug build (the ASan
# run) uses tiny rounds, so these corpora take many search and scoring
# rounds there.
# Registered only when MPI support is built.
# usage: mpi_links.sh NEWSFOLD SHARED_DIR SOURCE_DIR
nf=$1 shared=$2 src=$3
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/mpi_lib.sh"

# same NAME ARGS...: single process and N = 1..4 ranks give the same bytes and status
same() {
    local name=$1
    shift
    "$nf" links -q -j1 "$@" -o "$tmp/one.jsonl" 2>"$tmp/one.err"
    local want=$?
    for n in 1 2 3 4; do
        "${mpirun[@]}" -np $n "$nf" links --mpi -q -j1 "$@" -o "$tmp/mpi.jsonl" >"$tmp/mpi.out" 2>"$tmp/mpi.err"
        local got=$?
        check "$name N=$n exit $got (single $want)" [ $got -eq $want ]
        check "$name N=$n output" cmp -s "$tmp/one.jsonl" "$tmp/mpi.jsonl"
        # each skipped record named once, with the single process's file:line
        check "$name N=$n messages" cmp -s <(grep '^newsfold' "$tmp/one.err" | sort) \
            <(grep '^newsfold' "$tmp/mpi.err" | sort)
    done
}

same examples --batch 3 "$src/examples/corpus"
same "examples groups" --batch 3 --groups "$src/examples/corpus"
same "examples, default batch" "$src/examples/corpus"
if [ -d "$shared/seeds" ]; then
    same seeds --batch 2 "$shared/seeds"
    same "seeds groups" --batch 2 --groups "$shared/seeds"
else
    echo "seeds missing: $shared/seeds (skipped)"
fi

# WMT21: sources in a.jsonl, their translations (reference, one system) in
# b.jsonl in reverse order; mix.jsonl is the two in one file (split by byte
# range among the ranks)
wmt=("$shared"/data/wmt21/*/docs.jsonl)
if [ -f "${wmt[0]}" ]; then
    mkdir -p "$tmp/wmt"
    awk -v dir="$tmp/wmt" '
        /"id": "[^"]*\|(src|ref:A|mt:Online-A)"/ { if ($0 ~ /\|src"/) a[na++] = $0; else b[nb++] = $0 }
        END {
            for (i = 0; i < na; i++) print a[i] > (dir "/a.jsonl")
            for (i = nb - 1; i >= 0; i--) print b[i] > (dir "/b.jsonl")
        }' "${wmt[@]}"
    cat "$tmp/wmt/a.jsonl" "$tmp/wmt/b.jsonl" > "$tmp/mix.jsonl"
    "$nf" links -q --batch 16 "$tmp/mix.jsonl" -o "$tmp/pairs.jsonl"
    check "WMT: translations found across the halves ($(wc -l < "$tmp/pairs.jsonl"))" \
        [ "$(grep -c '|src","b":"[^"]*|\(ref\|mt\)' "$tmp/pairs.jsonl")" -gt 100 ]
    same "WMT two files" --batch 16 "$tmp/wmt"
    same "WMT one file" --batch 16 "$tmp/mix.jsonl"
    same "WMT one file groups" --batch 16 --groups "$tmp/mix.jsonl"
    same "WMT default batch, threshold 0.3" --threshold 0.3 "$tmp/mix.jsonl"
    # threads on the ranks: the same bytes
    "$nf" links -q -j2 --batch 16 "$tmp/mix.jsonl" -o "$tmp/one.jsonl"
    "${mpirun[@]}" -np 3 "$nf" links --mpi -q -j2 --batch 16 "$tmp/mix.jsonl" -o "$tmp/mpi.jsonl" 2>/dev/null
    check "WMT N=3 -j2" cmp -s "$tmp/one.jsonl" "$tmp/mpi.jsonl"
    # every rank builds pivots: batches on each rank
    "${mpirun[@]}" -np 3 "$nf" links --mpi -q -j1 --stats --batch 16 "$tmp/mix.jsonl" -o /dev/null 2>"$tmp/stats.err"
    read -r -a docs <<<"$(grep -o 'batches [0-9]* ([0-9]* docs' "$tmp/stats.err" | grep -o '[0-9]* docs' |
        grep -o '[0-9]*' | tr '\n' ' ')"
    parts_ok() { [ ${#docs[@]} -eq 3 ] && [ "${docs[0]}" -gt 0 ] && [ "${docs[1]}" -gt 0 ] && [ "${docs[2]}" -gt 0 ]; }
    check "3 ranks each build pivots (${docs[*]})" parts_ok
    check "the parts add up to the corpus" [ $((docs[0] + docs[1] + docs[2])) -eq "$(wc -l < "$tmp/mix.jsonl")" ]
    # the pivots stay on their ranks (the finish is distributed): ranks 1
    # and 2 send rank 0 only their documents' ids, languages and dates
    # (under 160 bytes a document here; a pivot is about 9 KB)
    small_sends() {
        local r d s
        for r in 1 2; do
            d=$(grep -o "rank $r/3: .*" "$tmp/stats.err" | grep -o '([0-9]* docs' | grep -o '[0-9]*')
            s=$(grep -o "rank $r/3: .*" "$tmp/stats.err" | grep -o 'sent [0-9]* B' | grep -o '[0-9]*')
            [ -n "$d" ] && [ -n "$s" ] && [ "$s" -lt $((d * 160)) ] || return 1
        done
    }
    check "ranks 1 and 2 send rank 0 no pivots" small_sends
else
    echo "WMT21 missing: $shared/data/wmt21 (skipped)"
fi

# bad records: named on stderr once, skipped, exit 1, the rest identical
mkdir -p "$tmp/bad"
cat "$src"/examples/corpus/*.jsonl | head -14 > "$tmp/bad/a.jsonl"
echo '{"id": "broken", "text": ' >> "$tmp/bad/a.jsonl"
echo '{"id": "empty", "text": ""}' >> "$tmp/bad/a.jsonl"
cat "$src"/examples/corpus/*.jsonl | sed -n '15,$p' >> "$tmp/bad/a.jsonl"
same "bad record" --batch 4 "$tmp/bad"
check "bad record named with file and line" grep -q 'a.jsonl:15: invalid JSON' "$tmp/mpi.err"
check "empty record named with file and line" grep -q 'a.jsonl:16: no text' "$tmp/mpi.err"

# standard input cannot be shared among ranks
status_is 2 "${mpirun[@]}" -np 2 "$nf" links --mpi -q - < "$src/examples/corpus/coastwire.jsonl"
check "stdin refused: exit 2" [ $? -eq 0 ]
check "stdin refused: says why" grep -q 'standard input cannot be shared' "$tmp/err"

finish mpi_links
