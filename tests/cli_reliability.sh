#!/usr/bin/env bash
# cli_reliability.sh - what newsfold writes survives concurrent writers,
# SIGKILL at any moment and damaged files; hostile input is named and
# skipped, never silently lost.
#
#   index, concurrency   two, then four `dedup --index` writers on one index at
#                        once; afterwards it verifies and every document of
#                        every run that exited 0 is found again (re-sent under
#                        new ids, each is an exact copy of the indexed one,
#                        which stays canonical, as it does for a near copy)
#   index, lock          a writer waits for the lock, says so after a second
#   index, crash         `dedup --index` killed with SIGKILL at random moments
#                        (until 12 kills landed): after each the index verifies;
#                        at the end every run that exited 0 is found again
#   index, corruption    a flipped byte, a truncated segment and a manifest
#                        naming a segment twice are named by `index verify`;
#                        a run refuses the index naming the segment;
#                        `index repair` drops exactly that run's documents
#                        and leaves an index that verifies and works
#   outputs              -o FILE killed at random moments holds the previous
#                        or the new complete output, never a part; a failed
#                        run leaves the previous file (killed_keeps works on
#                        folders too, for `run -o DIR`)
#   bad input            truncated gzip, decompression bomb, a last line over
#                        --max-record without newline, lone surrogate escapes,
#                        a binary .txt
#
# usage: cli_reliability.sh NEWSFOLD [SOURCE_DIR]
set -u
nf=$1
source "$(dirname "$0")/cli_lib.sh"

# run_docs NAME N: N distinct documents (ids NAME-i) in $tmp/NAME.jsonl; the
# words come from a per-document counter, so no two documents are similar.
run_docs() {
    awk -v name="$1" -v n="$2" 'BEGIN {
        for (i = 0; i < n; i++) {
            printf "{\"id\":\"%s-%d\",\"text\":\"", name, i
            # "n" keeps name and number apart: "k3"+"240" and "k32"+"40" made the
            # same words, and such documents share shifted passages (near copies)
            for (w = 0; w < 60; w++) printf "w%sn%dx%d ", name, i, (w * 7919 + i) % 997
            printf "\"}\n"
        }
    }' >"$tmp/$1.jsonl"
}

# found_again INDEX RUN...: re-sends the runs' documents under new ids; true
# when every one is reported as an exact copy of its indexed original.
found_again() {
    local idx=$1
    shift
    local files=() r
    for r in "$@"; do
        sed 's/"id":"/"id":"again-/' "$tmp/$r.jsonl" >"$tmp/again-$r.jsonl"
        files+=("$tmp/again-$r.jsonl")
    done
    "$nf" dedup -q --index "$idx" -o "$tmp/again.out" "${files[@]}" 2>"$tmp/again.err" || return 1
    local want got
    want=$(cat "${files[@]}" | wc -l)
    got=$(grep -c '"id":"again-\([^"]*\)","group":"\1","canonical":"\1","relation":"exact"' "$tmp/again.out")
    [ "$want" -eq "$got" ] || { echo "found again: $got of $want"; return 1; }
}

verify_ok() { "$nf" index verify "$1" >"$tmp/verify.out" 2>&1; }

# ------------------------------------------------------------ concurrency

for r in a b c d e f; do run_docs "$r" 300; done
idx="$tmp/idx"
ok_runs=()
for group in "a b" "c d e f"; do
    pids=() names=()
    for r in $group; do
        "$nf" dedup -q --index "$idx" -o "$tmp/$r.out" "$tmp/$r.jsonl" 2>"$tmp/$r.err" &
        pids+=($!)
        names+=("$r")
    done
    for k in "${!pids[@]}"; do
        if wait "${pids[$k]}"; then ok_runs+=("${names[$k]}"); else cat "$tmp/${names[$k]}.err"; fi
    done
done
check "concurrent writers all succeed" test "${#ok_runs[@]}" -eq 6
check "index verifies after concurrent writers" verify_ok "$idx"
check "six segments, one per run" test "$(grep -c '^segment ' "$idx/MANIFEST")" -eq 6
check "segment names differ" test "$(cut -d' ' -f2 "$idx/MANIFEST" | grep seg- | sort -u | wc -l)" -eq 6
check "stats counts all documents" status_is 0 "$nf" index stats "$idx"
check "stats: documents" grep -q '^documents: *1800$' "$tmp/out"
check "stats: segments, bytes, options" grep -q '^segments: *6$' "$tmp/out"
check "stats: options" grep -q '^options: .*perms=128' "$tmp/out"
check "every document found again" found_again "$idx" "${ok_runs[@]}"
check "the index still verifies" verify_ok "$idx"
# a near copy whose id sorts first: the indexed original stays canonical
sed -n 6p "$tmp/a.jsonl" | sed 's/"id":"a-5"/"id":"0-near"/; s/ [^ ]* "}$/ changed and longer than before "}/' >"$tmp/near.jsonl"
check "near copy run" status_is 0 "$nf" dedup -q --index "$idx" "$tmp/near.jsonl"
check "near copy: indexed original canonical" grep -q '"id":"0-near","group":"a-5","canonical":"a-5","relation":"near"' "$tmp/out"

# a writer waiting for the lock says so, then proceeds
run_docs g 20
(flock "$idx/LOCK" sleep 3) &
holder=$!
sleep 0.5
check "waiting writer succeeds" status_is 0 "$nf" dedup -q --index "$idx" -o "$tmp/g.out" "$tmp/g.jsonl"
check "waiting writer says why" grep -q 'in use by another newsfold process' "$tmp/err"
wait "$holder"

# ------------------------------------------------------------ crash

crash="$tmp/crash"
run_docs k0 100
"$nf" dedup -q --index "$crash" -o /dev/null "$tmp/k0.jsonl"
committed=(k0)
kills=0
i=0
# runs that finish before their kill only cost time: the faster dedup
# gets, the more of them, so the loop may take up to 80 to land 12 kills
while [ "$kills" -lt 12 ] && [ "$i" -lt 80 ]; do
    i=$((i + 1))
    run_docs "k$i" 1500
    "$nf" dedup -q --index "$crash" -o /dev/null "$tmp/k$i.jsonl" 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
    { wait "$pid" && committed+=("k$i"); } 2>/dev/null
    check "index verifies after kill $i" verify_ok "$crash"
done
echo "crash: $kills runs killed, ${#committed[@]} completed"
check "at least 10 runs killed" test "$kills" -ge 10
check "completed runs kept across kills" found_again "$crash" "${committed[@]}"
check "index usable after kills" status_is 0 "$nf" dedup -q --index "$crash" -o /dev/null "$tmp/a.jsonl"

# ------------------------------------------------------------ corruption

cor="$tmp/cor"
for r in a b c; do "$nf" dedup -q --index "$cor" -o /dev/null "$tmp/$r.jsonl"; done
seg_b=$(awk '$1 == "segment" { n++; if (n == 2) print $2 }' "$cor/MANIFEST")
printf '\x5a' | dd of="$cor/$seg_b" bs=1 seek=200 conv=notrunc 2>/dev/null
check "verify: flipped byte fails" status_is 1 "$nf" index verify "$cor"
check "verify names the segment" grep -q "bad $seg_b .*checksum" "$tmp/out"
check "a run refuses the damaged index" status_is 2 "$nf" dedup -q --index "$cor" -o /dev/null "$tmp/d.jsonl"
check "the refusal names segment and repair" grep -q "$seg_b.*index repair" "$tmp/err"
check "repair" status_is 0 "$nf" index repair "$cor"
check "repair says what it dropped" grep -q 'dropped 300 documents from 1 runs' "$tmp/out"
check "repair names the run" grep -q "dropped $seg_b (run written 20" "$tmp/out"
check "repaired index verifies" verify_ok "$cor"
check "runs a and c survive the repair" found_again "$cor" a c
check "run b can be fed again" status_is 0 "$nf" dedup -q --index "$cor" -o /dev/null "$tmp/b.jsonl"
check "and is found again" found_again "$cor" b

trunc="$tmp/trunc"
for r in a b; do "$nf" dedup -q --index "$trunc" -o /dev/null "$tmp/$r.jsonl"; done
seg_a=$(awk '$1 == "segment" { print $2; exit }' "$trunc/MANIFEST")
truncate -s -100 "$trunc/$seg_a"
check "verify: truncated segment" status_is 1 "$nf" index verify "$trunc"
check "truncation named" grep -q "bad $seg_a .*truncated" "$tmp/out"
check "repair after truncation" status_is 0 "$nf" index repair "$trunc"
check "first run dropped" grep -q 'dropped 300 documents' "$tmp/out"
check "later run renumbered and kept" found_again "$trunc" b

# the failure of the issue: one segment listed twice (two writers raced)
dup="$tmp/dup"
"$nf" dedup -q --index "$dup" -o /dev/null "$tmp/a.jsonl"
line=$(grep '^segment ' "$dup/MANIFEST")
echo "$line" | awk '{ $3 = 299; print }' >>"$dup/MANIFEST"
check "verify: segment listed twice" status_is 1 "$nf" index verify "$dup"
check "repair of a doubled entry" status_is 0 "$nf" index repair "$dup"
check "doubled entry dropped, original kept" found_again "$dup" a
check "verifies" verify_ok "$dup"

check "verify: not an index" status_is 2 "$nf" index verify "$tmp"
check "not an index named" grep -q 'not a newsfold index' "$tmp/err"
check "no lock file left there" test ! -e "$tmp/LOCK"

# ------------------------------------------------------------ outputs

# killed_keeps NAME TARGET OLD NEW CMD...: six times, puts OLD (a file or a
# folder) at TARGET, starts CMD (which writes TARGET) and kills it with
# SIGKILL at a random moment; TARGET must then equal OLD or NEW completely
# (hidden temporaries beside it are allowed).
killed_keeps() {
    local name=$1 target=$2 old=$3 new=$4 i pid
    shift 4
    for i in $(seq 1 6); do
        rm -rf "$target"
        cp -r "$old" "$target"
        "$@" 2>/dev/null &
        pid=$!
        sleep "0.$((RANDOM % 8))$((RANDOM % 10))"
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
        check "$name killed ($i): old or new output, complete" \
            eval 'diff -r -x ".*.tmp" "$target" "$old" >/dev/null || diff -r -x ".*.tmp" "$target" "$new" >/dev/null'
    done
}

run_docs big 4000
"$nf" dedup -q -o "$tmp/new.ref" "$tmp/big.jsonl"
"$nf" dedup -q -o "$tmp/old.ref" "$tmp/a.jsonl"
killed_keeps "dedup -o FILE" "$tmp/out.jsonl" "$tmp/old.ref" "$tmp/new.ref" \
    "$nf" dedup -q -o "$tmp/out.jsonl" "$tmp/big.jsonl"
# `run -o DIR`: the four outputs change together (staged in a hidden folder
# beside DIR, swapped in with one rename), never old and new side by side.
"$nf" run -q -j1 --no-links -o "$tmp/run-old" "$tmp/a.jsonl"
"$nf" run -q -j1 --no-links -o "$tmp/run-new" "$tmp/big.jsonl"
killed_keeps "run -o DIR" "$tmp/run-out" "$tmp/run-old" "$tmp/run-new" \
    "$nf" run -q -j1 --no-links -o "$tmp/run-out" "$tmp/big.jsonl"
cp "$tmp/old.ref" "$tmp/out.jsonl"
check "failed run" status_is 2 "$nf" dedup -q --index "$tmp/a.jsonl" -o "$tmp/out.jsonl" "$tmp/a.jsonl"
check "failed run leaves the previous output" cmp -s "$tmp/out.jsonl" "$tmp/old.ref"
check "-o /dev/null writes in place" status_is 0 "$nf" clean -q -o /dev/null "$tmp/a.jsonl"
check "/dev/null is still a device" test -c /dev/null
ln -s "$tmp/old.ref" "$tmp/link.jsonl"
check "-o through a symbolic link" status_is 0 "$nf" dedup -q -o "$tmp/link.jsonl" "$tmp/g.jsonl"
check "the link stays a link" test -L "$tmp/link.jsonl"
check "its target was written" cmp -s "$tmp/old.ref" "$tmp/g.out"
mkdir -p "$tmp/clean-out"
check "completed -o" status_is 0 "$nf" clean -q -o "$tmp/clean-out/c.jsonl" "$tmp/a.jsonl"
check "no temporary left" test "$(ls -A "$tmp/clean-out")" = "c.jsonl"

# ------------------------------------------------------------ bad input

bad="$tmp/bad"
mkdir -p "$bad"
head -n 200 "$tmp/a.jsonl" | gzip >"$bad/full.jsonl.gz"
size=$(stat -c %s "$bad/full.jsonl.gz")
head -c $((size / 2)) "$bad/full.jsonl.gz" >"$bad/cut.jsonl.gz"
check "truncated gzip: exit 1" status_is 1 "$nf" clean -q -o "$tmp/cut.out" "$bad/cut.jsonl.gz"
check "truncated gzip named with offset" grep -q "cut.jsonl.gz: truncated gzip stream: it ends unexpectedly at byte $((size / 2))" "$tmp/err"
check "records before the cut kept" test "$(wc -l <"$tmp/cut.out")" -gt 0

head -c 100000000 /dev/zero | gzip >"$bad/bomb.jsonl.gz"
check "decompression bomb: exit 1" status_is 1 "$nf" clean -q --max-record 1M "$bad/bomb.jsonl.gz"
check "bomb: line over the limit named" grep -q 'bomb.jsonl.gz:1: record longer than 1048576 bytes (no newline' "$tmp/err"

{ head -n 2 "$tmp/a.jsonl"; printf '{"id":"long","text":"%s"}' "$(head -c 3000 /dev/zero | tr '\0' x)"; } >"$bad/nonl.jsonl"
check "long last line without newline: exit 1" status_is 1 "$nf" clean -q --max-record 2K "$bad/nonl.jsonl"
check "long last line named" grep -q 'nonl.jsonl:3: record longer than' "$tmp/err"
check "other lines kept" test "$(wc -l <"$tmp/out")" -eq 2

printf '%s\n' '{"id":"lone","text":"Broken \ud800 surrogate and \udc00 low and pair \ud83d\ude00 ok."}' >"$bad/sur.jsonl"
check "lone surrogates: record kept" status_is 0 "$nf" clean -q "$bad/sur.jsonl"
check "lone surrogates counted as invalid" grep -q '"invalid_utf8":2' "$tmp/out"
check "repaired to U+FFFD, pair kept" grep -q 'Broken � surrogate and � low and pair 😀 ok' "$tmp/out"
printf '%s\n' '[{"id":"j","text":"Array \udbff item"}]' >"$bad/sur.json"
check "lone surrogate in .json" status_is 0 "$nf" clean -q "$bad/sur.json"
check ".json counted" grep -q '"invalid_utf8":1' "$tmp/out"
printf '%s\n' '{"id":"esc","text":"Escaped \\ud800 stays text"}' >"$bad/esc.jsonl"
check "escaped backslash untouched" status_is 0 "$nf" clean -q "$bad/esc.jsonl"
check "no repair counted" grep -q '"invalid_utf8":0' "$tmp/out"

# A .warc.gz is one gzip member per record; a cut inside the last member
# names that member's offset and keeps the records before it.
warc_member() { # URI TEXT
    local http body
    body="<html><head><title>$2</title></head><body><p>$2 $2 $2</p></body></html>"
    http=$(printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n%s' "$body")
    printf 'WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: %s\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: %s\r\n\r\n%s\r\n\r\n' \
        "$1" "${#http}" "$http" | gzip -n
}
{ warc_member http://example.com/a "First page of plain news text"
  warc_member http://example.com/b "Second page of plain news text"; } >"$bad/two.warc.gz"
first=$(warc_member http://example.com/a "First page of plain news text" | wc -c)
total=$(stat -c %s "$bad/two.warc.gz")
head -c $((total - 20)) "$bad/two.warc.gz" >"$bad/cut.warc.gz"
check "complete .warc.gz: exit 0" status_is 0 "$nf" clean -q "$bad/two.warc.gz"
check "complete .warc.gz: two records" test "$(wc -l <"$tmp/out")" -eq 2
check "truncated .warc.gz: exit 1" status_is 1 "$nf" clean -q "$bad/cut.warc.gz"
check "truncated member named with its offset" grep -q "cut.warc.gz: gzip member at offset $first is truncated" "$tmp/err"
check "record before the cut kept" test "$(wc -l <"$tmp/out")" -eq 1

mkdir -p "$bad/txt"
printf 'A plain page of text.\n' >"$bad/txt/good.txt"
printf 'PK\003\004\000\000binary\000junk' >"$bad/txt/image.txt"
check "binary .txt: exit 1" status_is 1 "$nf" clean -q "$bad/txt"
check "binary .txt named" grep -q 'image.txt: binary file, not text (NUL byte at offset 4), skipped' "$tmp/err"
check "text file kept" test "$(wc -l <"$tmp/out")" -eq 1

finish cli_reliability
