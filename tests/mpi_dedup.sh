#!/usr/bin/env bash
# mpi_dedup.sh - `mpirun -np N newsfold dedup --mpi` gives the bytes of the
# single process (documents, --pairs, exit status, the messages naming
# skipped records) for N = 1..4 on the examples, the seeds, and a generated
# corpus whose planted copies (exact, near, contained) lie in other batches
# and other byte ranges than their originals (one JSONL file is split by
# byte range among the ranks); also mixed formats (whole files, .gz, a JSON
# array, blank lines) where batches start inside unsplittable files, ids
# repeated across ranges, bad records past the middle of a split file,
# --index, and the default batch size. Registered only when MPI support is built.
# usage: mpi_dedup.sh NEWSFOLD SHARED_DIR SOURCE_DIR
nf=$1 shared=$2 src=$3
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/mpi_lib.sh"

# gen_corpus FILE DOCS SEED: JSONL; every 5th document is copied 1..4
# batches of 16 later (exact, near with a few words changed, or inside a
# longer document), so copies cross shard boundaries for every N.
gen_corpus() {
    awk -v n="$2" -v seed="$3" 'BEGIN {
        srand(seed)
        for (w = 0; w < 3000; w++) {
            s = ""; l = 3 + int(rand() * 6)
            for (c = 0; c < l; c++) s = s substr("abcdefghijklmnoprstuvwyz", 1 + int(rand() * 24), 1)
            vocab[w] = s
        }
        for (i = 0; i < n; i++) text[i] = ""
        for (i = 0; i < n; i++) {
            if (text[i] != "") continue
            s = ""; l = 60 + int(rand() * 120)
            for (k = 0; k < l; k++) s = s (k ? " " : "") vocab[int(rand() * 3000)]
            text[i] = s
            if (i % 5) continue
            j = i + 16 * (1 + int(rand() * 4)) + int(rand() * 16)
            if (j >= n || text[j] != "") continue
            kind = int(rand() * 3)
            if (kind == 0) text[j] = s
            else if (kind == 1) {
                m = split(s, ws, " "); t = ""
                for (k = 1; k <= m; k++) t = t (k > 1 ? " " : "") (k % 23 == 0 ? "changed" : ws[k])
                text[j] = t
            } else {
                t = s
                for (k = 0; k < l * 2; k++) t = t " " vocab[int(rand() * 3000)]
                text[j] = t
            }
        }
        for (i = 0; i < n; i++)
            printf "{\"id\":\"g%05d\",\"published\":\"2024-%02d-%02d\",\"text\":\"%s\"}\n", i, 1 + i % 12, 1 + i % 28, text[i]
    }' > "$1"
}

# same NAME ARGS...: single process and N = 1..4 ranks give the same bytes and status
same() {
    local name=$1
    shift
    "$nf" dedup -q -j1 "$@" -o "$tmp/one.jsonl" --pairs "$tmp/one.pairs" 2>"$tmp/one.err"
    local want=$?
    for n in 1 2 3 4; do
        "${mpirun[@]}" -np $n "$nf" dedup --mpi -q -j1 "$@" -o "$tmp/mpi.jsonl" --pairs "$tmp/mpi.pairs" \
            >"$tmp/mpi.out" 2>"$tmp/mpi.err"
        local got=$?
        check "$name N=$n exit $got (single $want)" [ $got -eq $want ]
        check "$name N=$n documents" cmp -s "$tmp/one.jsonl" "$tmp/mpi.jsonl"
        check "$name N=$n pairs" cmp -s "$tmp/one.pairs" "$tmp/mpi.pairs"
        # each skipped record named once, with the single process's file:line
        check "$name N=$n messages" cmp -s <(grep '^newsfold' "$tmp/one.err" | sort) \
            <(grep '^newsfold' "$tmp/mpi.err" | sort)
    done
}

gen_corpus "$tmp/gen.jsonl" 400 7
check "generated corpus has copies" [ "$("$nf" dedup -q --batch 16 "$tmp/gen.jsonl" | grep -c '"relation":"exact"')" -gt 5 ]
check "generated corpus has near copies" [ "$("$nf" dedup -q --batch 16 "$tmp/gen.jsonl" | grep -c '"relation":"near"')" -gt 5 ]
check "generated corpus has contained copies" [ "$("$nf" dedup -q --batch 16 "$tmp/gen.jsonl" | grep -c '"relation":"contained"')" -gt 5 ]
same generated --batch 16 "$tmp/gen.jsonl"
same "generated exact-verify" --batch 16 --exact-verify "$tmp/gen.jsonl"
same "generated simhash" --batch 16 --method simhash "$tmp/gen.jsonl"
same examples --batch 3 "$src/examples/corpus"
same "examples, default batch" "$src/examples/corpus"
if [ -d "$shared/seeds" ]; then
    same seeds --batch 2 "$shared/seeds"
else
    echo "seeds missing: $shared/seeds (skipped)"
fi

# gen_mass FILE SEED: 400 documents where the groups of one key reach
# every rank: 120 near copies of one text (one word changed each, so band
# groups of more than 48 documents: chain plus star), 30 exact copies of
# another (one exact group across the ranks), 55 documents sharing a long
# passage after up to 10 or 100 to 200 words of their own (sample groups
# of 49..64: chain plus star; near or contained by length) and 70 sharing another (sample
# groups of more than 64: ignored), spread through the file.
gen_mass() {
    awk -v seed="$2" 'BEGIN {
        srand(seed)
        for (w = 0; w < 3000; w++) {
            s = ""; l = 3 + int(rand() * 6)
            for (c = 0; c < l; c++) s = s substr("abcdefghijklmnoprstuvwyz", 1 + int(rand() * 24), 1)
            vocab[w] = s
        }
        for (t = 0; t < 4; t++) {
            s = ""
            for (k = 0; k < 90; k++) s = s (k ? " " : "") vocab[int(rand() * 3000)]
            base[t] = s
        }
        near = 0; exact = 0; mid = 0; big = 0
        for (i = 0; i < 400; i++) {
            r = i % 10
            if ((r == 0 || r == 3 || r == 6) && near < 120) {
                m = split(base[0], ws, " "); t = ""
                for (k = 1; k <= m; k++) t = t (k > 1 ? " " : "") (k == 1 + near % m ? "word" near : ws[k])
                text = t; near++
            } else if (r == 1 && exact < 30) {
                text = base[1]; exact++
            } else {
                s = ""
                own = (r == 2 || r == 5 || r == 8) && mid < 55 ? (mid % 2 ? 100 + int(rand() * 100) : int(rand() * 10)) : 40 + int(rand() * 40)
                for (k = 0; k < own; k++) s = s (k ? " " : "") vocab[int(rand() * 3000)]
                if ((r == 2 || r == 5 || r == 8) && mid < 55) { text = s " " base[2]; mid++ }
                else if (big < 70) { text = base[3] " " s; big++ }
                else text = s
            }
            printf "{\"id\":\"m%04d\",\"published\":\"2024-%02d-%02d\",\"text\":\"%s\"}\n", i, 1 + i % 12, 1 + i % 28, text
        }
    }' > "$1"
}
gen_mass "$tmp/mass.jsonl" 5
"$nf" dedup -q --batch 16 "$tmp/mass.jsonl" -o "$tmp/mass.out" --pairs "$tmp/mass.pairs"
check "mass corpus: near copies grouped" [ "$(grep -c '"relation":"near"' "$tmp/mass.out")" -gt 150 ]
check "mass corpus: exact copies grouped" [ "$(grep -c '"relation":"exact"' "$tmp/mass.out")" -ge 29 ]
check "mass corpus: contained pairs" [ "$(grep -c '"relation":"contained"' "$tmp/mass.pairs")" -gt 20 ]
same "mass groups" --batch 16 "$tmp/mass.jsonl"
same "mass groups, batch 64" --batch 64 "$tmp/mass.jsonl"
same "mass groups simhash" --batch 16 --method simhash "$tmp/mass.jsonl"
same "mass groups threshold 0.8" --batch 16 --threshold 0.8 --containment 0.5 "$tmp/mass.jsonl"

# no rank gathers the sketches: what rank 1 sends to rank 0 is exactly the
# output records of its documents (and --pairs adds only pair records)
"${mpirun[@]}" -np 2 "$nf" dedup --mpi -q -j1 --stats --batch 16 "$tmp/mass.jsonl" -o "$tmp/mpi.jsonl" 2>"$tmp/stats.err"
r1=$(grep 'rank 1/2' "$tmp/stats.err")
docs1=$(echo "$r1" | grep -o '([0-9]* docs)' | grep -o '[0-9]*')
sent1=$(echo "$r1" | grep -o 'sent [0-9]* B' | grep -o '[0-9]*')
check "rank 1 read documents ($docs1)" [ "${docs1:-0}" -gt 100 ]
check "rank 1 sent rank 0 its output records only ($sent1 B)" \
    [ "${sent1:-x}" = "$(tail -n "${docs1:-1}" "$tmp/mpi.jsonl" | wc -c)" ]

# a bad record: named on stderr, skipped, exit 1, the rest identical
mkdir -p "$tmp/bad"
head -40 "$tmp/gen.jsonl" > "$tmp/bad/a.jsonl"
echo '{"id": "broken", "text": ' >> "$tmp/bad/a.jsonl"
sed -n 41,120p "$tmp/gen.jsonl" >> "$tmp/bad/a.jsonl"
same "bad record" --batch 8 "$tmp/bad"
check "bad record named with file and line" grep -q 'a.jsonl:41' "$tmp/mpi.err"

# mixed formats: whole-file formats (a JSON array, .txt, .gz) among split
# JSONL files, blank lines, an unsupported file, ids repeated across files
# and ranges, bad records in the second half of a split file
mkdir -p "$tmp/mixed"
(echo '['; sed -n 1,9p "$tmp/gen.jsonl" | paste -sd, -; echo ']') > "$tmp/mixed/a.json"
sed -n 10,60p "$tmp/gen.jsonl" | awk 'NR % 7 == 0 { print "" } { print }' > "$tmp/mixed/b.jsonl"
sed -n 61p "$tmp/gen.jsonl" | sed 's/.*"text":"\([^"]*\)".*/\1/' > "$tmp/mixed/c.txt"
sed -n 62,90p "$tmp/gen.jsonl" | gzip > "$tmp/mixed/d.jsonl.gz"
echo 'not a format' > "$tmp/mixed/e.xyz"
{ sed -n 91,200p "$tmp/gen.jsonl"
  sed -n 201,230p "$tmp/gen.jsonl" | sed 's/"id":"g002\([0-9]\)\([0-9]\)"/"id":"g000\1\2"/'
  sed -n 231,300p "$tmp/gen.jsonl"
  echo '{"id": "broken late", "text": '
  sed -n 150p "$tmp/gen.jsonl"
  sed -n 301,400p "$tmp/gen.jsonl"
  echo '{"id": "no text"}'; } > "$tmp/mixed/f.jsonl"
"$nf" dedup -q --batch 4 "$tmp/mixed" -o /dev/null 2>"$tmp/mixed.err"
check "mixed: repeated ids are skipped" grep -q 'duplicate id "g0000' "$tmp/mixed.err"
check "mixed: late bad record named" grep -q 'f.jsonl:211: invalid JSON' "$tmp/mixed.err"
same "mixed batch 4" --batch 4 "$tmp/mixed"
same "mixed batch 7" --batch 7 "$tmp/mixed"
same "mixed exact-verify" --batch 5 --exact-verify "$tmp/mixed"

# --shard-output: rank R writes FILE.R; the shards in rank order are the
# single output; --pairs stays whole on rank 0
"$nf" dedup -q --batch 4 "$tmp/mixed" -o "$tmp/one.jsonl" --pairs "$tmp/one.pairs" 2>/dev/null
for n in 1 3; do
    rm -f "$tmp"/shard.jsonl.*
    "${mpirun[@]}" -np $n "$nf" dedup --mpi --shard-output -q --batch 4 "$tmp/mixed" -o "$tmp/shard.jsonl" \
        --pairs "$tmp/shard.pairs" 2>/dev/null
    check "--shard-output N=$n: one file per rank" [ "$(ls "$tmp"/shard.jsonl.* | wc -l)" -eq $n ]
    check "--shard-output N=$n: shards in order are the output" \
        cmp -s "$tmp/one.jsonl" <(for r in $(seq 0 $((n - 1))); do cat "$tmp/shard.jsonl.$r"; done)
    check "--shard-output N=$n: pairs" cmp -s "$tmp/one.pairs" "$tmp/shard.pairs"
done
status_is 2 "$nf" dedup --shard-output -o "$tmp/x" "$tmp/mixed"
check "--shard-output without --mpi: exit 2" [ $? -eq 0 ]
check "--shard-output without --mpi refused" grep -q 'needs --mpi' "$tmp/err"

# the default batch size (4096) with batches that span byte ranges
gen_corpus "$tmp/big.jsonl" 9000 11
same "generated, default batch" "$tmp/big.jsonl"
# the ranks split the input: each scans a part, the parts add up to the whole
"${mpirun[@]}" -np 3 "$nf" dedup --mpi -q -j1 --stats "$tmp/big.jsonl" -o /dev/null 2>"$tmp/stats.err"
read -r -a scanned <<<"$(grep -o 'scanned [0-9]* docs' "$tmp/stats.err" | grep -o '[0-9]*' | sort -n | tr '\n' ' ')"
parts_ok() { [ ${#scanned[@]} -eq 3 ] && [ "${scanned[0]}" -gt 2000 ] && [ "${scanned[2]}" -lt 4000 ]; }
check "3 ranks scan parts of one file (${scanned[*]})" parts_ok
check "the parts add up to the file" [ $((scanned[0] + scanned[1] + scanned[2])) -eq 9000 ]

# --index: rank 0 owns the index; two runs, the second against the first
mkdir -p "$tmp/i1" "$tmp/i2"
head -200 "$tmp/gen.jsonl" > "$tmp/first.jsonl"
tail -200 "$tmp/gen.jsonl" > "$tmp/second.jsonl"
"$nf" dedup -q --batch 16 --index "$tmp/i1" "$tmp/first.jsonl" >/dev/null
"$nf" dedup -q --batch 16 --index "$tmp/i1" "$tmp/second.jsonl" > "$tmp/one.idx"
"${mpirun[@]}" -np 3 "$nf" dedup --mpi -q --batch 16 --index "$tmp/i2" "$tmp/first.jsonl" >/dev/null 2>"$tmp/mpi.err"
"${mpirun[@]}" -np 3 "$nf" dedup --mpi -q --batch 16 --index "$tmp/i2" "$tmp/second.jsonl" > "$tmp/mpi.idx" 2>>"$tmp/mpi.err"
check "--index N=3 same as single" cmp -s "$tmp/one.idx" "$tmp/mpi.idx"
check "--index second run reports copies of the first" grep -q '"relation":"exact"' "$tmp/mpi.idx"

finish mpi_dedup
