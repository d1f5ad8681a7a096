#!/usr/bin/env bash
# cli_behaviour.sh - the newsfold command as a user meets it: help, version,
# exit statuses, messages naming file and line, stdin, and byte-identical
# output for any thread count.
# usage: cli_behaviour.sh NEWSFOLD SHARED_DIR SOURCE_DIR
set -u
nf=$1 shared=$2 src=$3
source "$(dirname "$0")/cli_lib.sh"

check "version" status_is 0 "$nf" --version
check "version text" grep -q '^newsfold [0-9]' "$tmp/out"
check "help" status_is 0 "$nf" --help
check "clean help" status_is 0 "$nf" clean --help
check "unknown command" status_is 2 "$nf" frobnicate
check "unknown option" status_is 2 "$nf" clean --bogus "$src/examples/corpus"
check "no input" status_is 2 "$nf" clean
check "missing input" status_is 2 "$nf" clean /nonexistent/path
check "missing input named" grep -q '/nonexistent/path' "$tmp/err"

printf '{"id":"a","text":"Fine text here."}\n{"id":"b","text":\n{"id":"c","text":"More fine text."}\n' >"$tmp/in.jsonl"
check "skipped record gives 1" status_is 1 "$nf" clean -q "$tmp/in.jsonl"
check "skipped record named" grep -q 'in.jsonl:2' "$tmp/err"
check "rest still processed" test "$(wc -l <"$tmp/out")" -eq 2

check "stdin" status_is 0 "$nf" clean -q - <"$src/examples/corpus/harbourtimes.jsonl"
check "stdin output" test "$(wc -l <"$tmp/out")" -eq "$(grep -c . "$src/examples/corpus/harbourtimes.jsonl")"

check "-j1" status_is 0 "$nf" clean -q -j1 -o "$tmp/j1.jsonl" "$src/examples/corpus"
check "-j2" status_is 0 "$nf" clean -q -j2 --batch 7 -o "$tmp/j2.jsonl" "$src/examples/corpus"
check "-j1 and -j2 agree" cmp -s "$tmp/j1.jsonl" "$tmp/j2.jsonl"
check "quiet means no stderr" test ! -s "$tmp/err"

check "run makes missing output folders" status_is 0 "$nf" run -q -o "$tmp/new/nested" "$src/examples/corpus"
check "run wrote the report" test -s "$tmp/new/nested/report.html"

if [ -d "$shared/seeds" ]; then
    check "seeds" status_is 1 "$nf" clean "$shared/seeds" # gold.json there is not a document
    check "seeds gold.json named" grep -q 'gold.json' "$tmp/err"
    check "seeds all five" test "$(wc -l <"$tmp/out")" -eq 5
fi

finish cli_behaviour
