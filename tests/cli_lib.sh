# cli_lib.sh - what the command-line tests share; sourced, not run.
# check NAME CMD...       counts CMD's success as a pass, else prints FAIL
# status_is N CMD...      true when CMD exits with N; its output lands in
#                         $tmp/out and $tmp/err
# finish NAME             prints "NAME: P passed, F failed" and sets the status
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; fi
}
status_is() {
    local want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    [ $? -eq "$want" ]
}
finish() {
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
