#!/usr/bin/env bash
# uci_to_jsonl.sh - the UCI headlines sample (../shared/data/uci-headlines/
# headlines.tsv: id, title, publisher, story, url) as newsfold JSONL: one
# document per headline, the headline as title and text, publisher as
# source, lang "en" (the sample is all English). The story column is the
# gold label and is left out; `newsfold eval --gold-key story` reads it.
# usage: scripts/uci_to_jsonl.sh [headlines.tsv] > uci.jsonl
set -euo pipefail
in=${1:-../shared/data/uci-headlines/headlines.tsv}
awk -F'\t' '
function js(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\r/, "", s); return "\"" s "\"" }
NR > 1 && NF >= 4 {
    printf "{\"id\":%s,\"title\":%s,\"text\":%s,\"lang\":\"en\",\"source\":%s,\"url\":%s}\n",
        js($1), js($2), js($2), js($3), js($5)
}' "$in"
