#!/usr/bin/env bash
# cli_run.sh - `newsfold run` and `newsfold eval` as a user meets them: the
# four output files, the seeds' and examples' gold reproduced through eval
# (JSON gold, JSONL prediction, and a TSV gold), exit statuses, and
# byte-identical output for any thread count.
# usage: cli_run.sh NEWSFOLD SHARED_DIR SOURCE_DIR
set -u
nf=$1 shared=$2 src=$3
source "$(dirname "$0")/cli_lib.sh"
bcubed_f1_is_one() { # eval output in $tmp/out
    grep -q '^B-cubed .* F1 1\.0000$' "$tmp/out"
}

check "run help" status_is 0 "$nf" run --help
check "run without -o" status_is 2 "$nf" run "$src/examples/corpus"
check "run without input" status_is 2 "$nf" run -o "$tmp/x"
check "run bad threshold" status_is 2 "$nf" run --threshold abc -o "$tmp/x" "$src/examples/corpus"

check "run examples" status_is 0 "$nf" run -q -j1 -o "$tmp/ex1" "$src/examples/corpus"
for f in documents.jsonl events.jsonl storylines.jsonl report.html; do
    check "examples $f" test -s "$tmp/ex1/$f"
done
check "one record per document" test "$(wc -l <"$tmp/ex1/documents.jsonl")" -eq 30
check "document fields" grep -q '"group":.*"canonical":.*"relation":.*"score":.*"event":"E.*"storyline":"S' "$tmp/ex1/documents.jsonl"
check "examples events" status_is 0 "$nf" eval --gold "$src/examples/gold.json" --pred "$tmp/ex1/documents.jsonl" --key event
check "examples events exact" bcubed_f1_is_one
check "examples storylines" status_is 0 "$nf" eval --gold "$src/examples/gold.json" --pred "$tmp/ex1/documents.jsonl" --key storyline
check "examples storylines exact" bcubed_f1_is_one
check "run -j2" status_is 0 "$nf" run -q -j2 -o "$tmp/ex2" "$src/examples/corpus"
for f in documents.jsonl events.jsonl storylines.jsonl report.html; do
    check "same $f for -j1 and -j2" cmp -s "$tmp/ex1/$f" "$tmp/ex2/$f"
done
check "run --mem-limit" status_is 0 "$nf" run -q -j2 --mem-limit 4K --tmp-dir "$tmp" -o "$tmp/ex3" "$src/examples/corpus"
for f in documents.jsonl events.jsonl storylines.jsonl report.html; do
    check "same $f with a tiny --mem-limit" cmp -s "$tmp/ex1/$f" "$tmp/ex3/$f"
done
check "run bad --mem-limit" status_is 2 "$nf" run --mem-limit 0 -o "$tmp/x" "$src/examples/corpus"

# the seeds folder holds gold.json too: it is skipped (status 1), the rest runs
check "run seeds" status_is 1 "$nf" run -q -o "$tmp/seeds" "$shared/seeds"
check "seeds skip named" grep -q 'gold.json' "$tmp/err"
check "seeds events" status_is 0 "$nf" eval --gold "$shared/seeds/gold.json" --pred "$tmp/seeds/documents.jsonl"
check "seeds events exact" bcubed_f1_is_one
check "seeds storylines" status_is 0 "$nf" eval --gold "$shared/seeds/gold.json" --pred "$tmp/seeds/documents.jsonl" --key storyline
check "seeds storylines exact" bcubed_f1_is_one
check "seeds one storyline" test "$(wc -l <"$tmp/seeds/storylines.jsonl")" -eq 1
check "seeds two events" test "$(wc -l <"$tmp/seeds/events.jsonl")" -eq 2

# a TSV gold with a header naming the column, and a gold that disagrees
printf 'id\tevent\n' >"$tmp/gold.tsv"
printf '%s\tA\n' 000_d1b32bc23ae043b6.txt 001_005966a9e4b686f2.txt 002_a47900e475f345e2.txt 003_f5148bdb9b328363.txt >>"$tmp/gold.tsv"
printf '004_e12e520f705a4e69.txt\tB\n' >>"$tmp/gold.tsv"
check "tsv gold" status_is 0 "$nf" eval --gold "$tmp/gold.tsv" --pred "$tmp/seeds/documents.jsonl"
check "tsv gold exact" bcubed_f1_is_one
printf 'id\tevent\n000_d1b32bc23ae043b6.txt\tA\n004_e12e520f705a4e69.txt\tA\nnot-there\tC\n' >"$tmp/bad.tsv"
check "disagreeing gold" status_is 0 "$nf" eval --json --gold "$tmp/bad.tsv" --pred "$tmp/seeds/documents.jsonl"
check "disagreeing gold scored" grep -q '"missing":1,.*"pair_recall":0.0000' "$tmp/out"
check "eval without pred" status_is 2 "$nf" eval --gold "$tmp/gold.tsv"
check "eval missing file" status_is 2 "$nf" eval --gold /nonexistent --pred "$tmp/seeds/documents.jsonl"

# an untitled one-line record reads its whole paragraph as its title: the
# outputs show its lead (first sentence, else words and an ellipsis)
long_text() {
    printf '{"id":"p1","text":"The harbour authority closed the port of Ravenna on Monday after a storm.'
    for i in $(seq 1 40); do printf ' Ships waited offshore for hours number %d.' "$i"; done
    printf '"}\n{"id":"p2","text":"'
    for i in $(seq 1 60); do printf 'many more words without a stop %d ' "$i"; done
    printf '"}\n'
}
long_text >"$tmp/paragraphs.jsonl"
check "run untitled paragraphs" status_is 0 "$nf" run -q -o "$tmp/para" "$tmp/paragraphs.jsonl"
check "paragraph title is its first sentence" grep -q '"title":"The harbour authority closed the port of Ravenna on Monday after a storm.","published"' "$tmp/para/documents.jsonl"
check "paragraph title without a stop is cut" grep -q '"title":"many more words without a stop 1 [^"]*…","published"' "$tmp/para/documents.jsonl"
check "report shows the lead only" test "$(grep -c 'Ships waited offshore for hours number 40' "$tmp/para/report.html")" -eq 0

finish cli_run
