#!/bin/sh
# service_run.sh TEST.mjs NEWSFOLD SHARED_DIR SOURCE_DIR WORK_DIR - runs one
# node test of `newsfold serve`; skipped (77) without node 18+ (fetch). The
# test itself skips when this newsfold was built without serve.
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
node -e 'process.exit(typeof fetch === "function" ? 0 : 1)' || { echo "SKIP: node 18 or later needed"; exit 77; }
exec node "$@"
