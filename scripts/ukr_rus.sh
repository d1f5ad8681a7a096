#!/usr/bin/env bash
# ukr_rus.sh - a Ukrainian -> Russian word list for the cross-lingual links.
# No Ukrainian-English dictionary exists in Debian or npm, but Apertium's
# Russian-Ukrainian pair (apertium-rus-ukr: a morphological analyser and a
# bilingual dictionary, compiled) and a list of Ukrainian word forms
# (wukrainian, 1.5 million forms) do. Every form the analyser knows is
# analysed (lt-proc), each analysis translated by the bilingual dictionary
# (lt-proc -b), and the Russian lemmas kept: "form TAB lemma [TAB lemma]...",
# one form a line (about 98,000 lines, 4 MB). src/links/lexicon.c reads it
# as Ukrainian -> Russian -> English through the Russian dictionaries.
# Writes DEST/ukr-rus.tsv; DEST as scripts/cedict.sh. Skips, with a message
# and status 0, when lttoolbox, apertium-rus-ukr or wukrainian is missing.
# usage: scripts/ukr_rus.sh [DEST]
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then default_dest=/usr/local/share/newsfold
else default_dest="${XDG_DATA_HOME:-$HOME/.local/share}/newsfold"; fi
dest="${1:-$default_dest}"
pair=/usr/share/apertium/apertium-rus-ukr
words=/usr/share/dict/ukrainian
[ -s "$dest/ukr-rus.tsv" ] && exit 0
if ! command -v lt-proc >/dev/null || [ ! -f "$pair/ukr-rus.automorf.bin" ] || [ ! -f "$words" ]; then
    echo "ukr_rus: lttoolbox, apertium-rus-ukr or wukrainian missing; Ukrainian links will read words as Russian" >&2
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One analysed form a line ("^form/analysis/analysis$"); forms the analyser
# splits into several units (hyphens) or does not know ("/*") are left out.
lt-proc "$pair/ukr-rus.automorf.bin" < "$words" |
    awk -F'/' '/^\^[^$^]*\$$/ && $2 !~ /^\*/ {
        sub(/^\^/, "", $1); sub(/\$$/, "", $NF)
        for (i = 2; i <= NF; i++) print $1 "\t^" $i "$" }' > "$work/analyses"
cut -f2 "$work/analyses" | lt-proc -b "$pair/ukr-rus.autobil.bin" > "$work/translations"
mkdir -p "$dest"
# "^analysis/translation/...$": Russian lemmas without tags, untranslated
# ones (@, #, *) dropped, each form's lemmas in the analyser's order.
paste "$work/analyses" "$work/translations" | awk -F'\t' '{
    n = split($3, parts, "/")
    for (i = 2; i <= n; i++) {
        t = parts[i]; sub(/\$$/, "", t)
        if (t ~ /^[@#*]/) continue
        sub(/<.*/, "", t)
        if (t == "" || ($1 SUBSEP t) in seen) continue
        seen[$1 SUBSEP t] = 1
        if (!($1 in line)) { order[++m] = $1; line[$1] = $1 }
        line[$1] = line[$1] "\t" t
    }
} END { for (i = 1; i <= m; i++) print line[order[i]] }' > "$dest/ukr-rus.tsv.tmp"
mv "$dest/ukr-rus.tsv.tmp" "$dest/ukr-rus.tsv"
