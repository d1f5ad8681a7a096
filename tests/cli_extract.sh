#!/usr/bin/env bash
# cli_extract.sh - `newsfold extract` end to end: JSONL fields, exit codes
# (0 all good, 1 something skipped, 2 usage), skipped pages named on stderr,
# output identical for any -j, and other commands taking HTML directly.
#   tests/cli_extract.sh path/to/newsfold
set -euo pipefail
cli=$1
tmp=$(mktemp -d /tmp/nf-cli-extract.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/in"
for i in 1 2 3 4 5 6; do
    cat >"$tmp/in/page$i.html" <<EOF
<!DOCTYPE html><html lang="en"><head><title>Story $i | Test Times</title>
<meta property="og:site_name" content="Test Times">
<meta property="article:published_time" content="2024-02-0${i}T08:00:00Z"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<div id="cookie-notice">We use cookies to improve this site. Accept cookies to continue.</div>
<article><h1>Story $i</h1>
<p>Paragraph one of story $i explains what happened on the day, who was there and why it matters to readers.</p>
<p>Paragraph two of story $i adds the background, with quotes from two officials and a local shop owner.</p>
</article><footer>Copyright Test Times</footer></body></html>
EOF
done
printf '\x00\x01\x02\x03binary\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$tmp/in/blob.html"

# usage errors
"$cli" extract >/dev/null 2>&1 && fail "no input should fail" || [ $? -eq 2 ] || fail "no input: exit 2 expected"
"$cli" extract --help | grep -q "usage: newsfold extract" || fail "--help"
"$cli" --help | grep -q "extract" || fail "extract missing from the command list"

# one page skipped (binary): exit 1, named on stderr, the rest written
set +e
"$cli" extract -q -j1 -o "$tmp/out1.jsonl" "$tmp/in" 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "exit $rc, want 1 (one page skipped)"
grep -q "blob.html" "$tmp/err" || fail "skipped page not named: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out1.jsonl")" -eq 6 ] || fail "want 6 records"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    for want in "\"id\":\"page$n.html\"" "\"title\":\"Story $n\"" "\"published\":\"2024-02-0$n\"" \
        '"lang":"en"' '"site":"Test Times"' '"author":null' "\"text\":\"Paragraph one of story $n" \
        '\n\nParagraph two' '"paragraphs_kept":2' '"charset":"utf-8"' '"date_source":"meta"'; do
        case "$line" in *"$want"*) ;; *) fail "record $n lacks $want: $line" ;; esac
    done
    for bad in cookies Home Copyright; do
        case "$line" in *"\"text\":"*"$bad"*"\"fetched\""*) fail "record $n: $bad in the text" ;; esac
    done
done <"$tmp/out1.jsonl"

# same bytes for any thread count
rm "$tmp/in/blob.html"
"$cli" extract -q -j3 --batch 2 -o "$tmp/out3.jsonl" "$tmp/in" || fail "exit $? with good input"
cmp -s "$tmp/out1.jsonl" "$tmp/out3.jsonl" || fail "-j1 and -j3 differ"

# page limit
set +e
"$cli" extract -q --max-page 200 -o /dev/null "$tmp/in" 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "larger than 200" "$tmp/err" || fail "--max-page: exit $rc, $(cat "$tmp/err")"

# --stats reports speed and memory
"$cli" extract -q --stats -o /dev/null "$tmp/in" 2>"$tmp/err" || fail "--stats run"
grep -q "MB/s.*peak RSS" "$tmp/err" || fail "--stats line: $(cat "$tmp/err")"

# WARC: HTML responses become records, other records are counted, a corrupt one is named
warc_record() { # type uri content-type block-file
    printf 'WARC/1.0\r\nWARC-Type: %s\r\nWARC-Target-URI: %s\r\nWARC-Date: 2024-02-09T10:00:00Z\r\n' "$1" "$2"
    printf 'Content-Type: %s\r\nContent-Length: %d\r\n\r\n' "$3" "$(wc -c <"$4")"
    cat "$4"
    printf '\r\n\r\n'
}
{ printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n'; cat "$tmp/in/page1.html"; } >"$tmp/resp"
printf 'GET / HTTP/1.1\r\n\r\n' >"$tmp/req"
{
    warc_record request http://t.example/1 "application/http; msgtype=request" "$tmp/req"
    warc_record response http://t.example/1 "application/http; msgtype=response" "$tmp/resp"
    printf 'WARC/1.0\r\nWARC-Type: response\r\nContent-Length: nope\r\n\r\n'
    warc_record response http://t.example/2 "application/http; msgtype=response" "$tmp/resp"
} >"$tmp/crawl.warc"
bad_at=$(grep -abo 'Content-Length: nope' "$tmp/crawl.warc" | cut -d: -f1)
bad_at=$((bad_at - $(printf 'WARC/1.0\r\nWARC-Type: response\r\n' | wc -c)))
set +e
"$cli" extract -j2 -o "$tmp/warc.jsonl" "$tmp/crawl.warc" 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "WARC with a corrupt record: exit $rc, want 1"
grep -q "crawl.warc: record at offset $bad_at: no valid Content-Length" "$tmp/err" || fail "corrupt record not named: $(cat "$tmp/err")"
grep -q "1 WARC records ignored" "$tmp/err" || fail "ignored records not counted: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/warc.jsonl")" -eq 2 ] || fail "WARC: want 2 records"
grep -q '"id":"http://t.example/1".*"fetched":"2024-02-09T10:00:00Z".*"offset":' "$tmp/warc.jsonl" || fail "WARC record fields"
grep -q '"id":"http://t.example/2"' "$tmp/warc.jsonl" || fail "record after the corrupt one lost"

# clean reads HTML directly
"$cli" clean -q -o "$tmp/clean.jsonl" "$tmp/in" || fail "clean on HTML: exit $?"
[ "$(wc -l <"$tmp/clean.jsonl")" -eq 6 ] || fail "clean: want 6 records"
grep -q '"title":"Story 1"' "$tmp/clean.jsonl" || fail "clean: title from HTML"
echo "cli_extract: all passed"
