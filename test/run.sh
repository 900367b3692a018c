#!/bin/sh
# run.sh BUILD_DIR - run every BUILD_DIR/test/test_* binary.
#
# Each test runs under `timeout` ($SHMKV_TEST_TIMEOUT_OUTER seconds, default
# 300).  Prints one PASS/FAIL line per test with its runtime (and the output
# of failed tests), then exactly one summary line "N passed, M failed".
# Exits 0 only if no test failed and at least one ran.
# Set SHMKV_TEST_VERBOSE=1 to see the output of passing tests too.

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
limit=${SHMKV_TEST_TIMEOUT_OUTER:-300}
passed=0
failed=0
log=$(mktemp "${TMPDIR:-/tmp}/shmkv-test-log.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT
trap 'exit 130' INT TERM

for t in "$build"/test/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    start=$(date +%s.%N)
    timeout -k 10 "$limit" "$t" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %-24s %8s s\n' "$name" "$secs"
        if [ -n "$SHMKV_TEST_VERBOSE" ]; then sed 's/^/    /' "$log"; fi
    else
        failed=$((failed + 1))
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            why="timed out after $limit s"
        else
            why="exit status $rc"
        fi
        printf 'FAIL %-24s %8s s (%s)\n' "$name" "$secs" "$why"
        lines=$(wc -l <"$log")
        if [ "$lines" -gt 200 ]; then
            echo "    ... ($((lines - 200)) earlier lines omitted)"
        fi
        tail -n 200 "$log" | sed 's/^/    /'
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
