#!/bin/sh
# run.sh BUILD_DIR [TEST[:PART,...]]... - run the tests of a build.
#
# Without TEST arguments every BUILD_DIR/test/test_* program runs; with
# them only those, and for TEST:PART,... only those parts of it (a test's
# parts are what `BUILD_DIR/test/TEST --list` prints).  A TEST that is no
# test of the build, or a PART it does not have, is a usage error (exit 2)
# before anything runs.
#
# Each test runs under `timeout` ($SHMKV_TEST_TIMEOUT_OUTER seconds, default
# 300).  Prints one PASS/FAIL line per test with its runtime (and the output
# of failed tests), then exactly one summary line "N passed, M failed".
# Exits 0 only if no test failed and at least one ran.
# Set SHMKV_TEST_VERBOSE=1 to see the output of passing tests too.

usage() {
    echo "usage: $0 BUILD_DIR [TEST[:PART,...]]..." >&2
    exit 2
}
if [ $# -lt 1 ] || [ ! -d "$1" ]; then usage; fi
build=$1
shift
limit=${SHMKV_TEST_TIMEOUT_OUTER:-300}

# A TEST[:PART,...] argument: the test must be a program of the build, and
# each part one it lists.
check_spec() {
    name=${1%%:*}
    case $name in
    */*) echo "run.sh: '$name' is not a test name (test_...)" >&2; exit 2 ;;
    test_*) ;;
    *) echo "run.sh: '$name' is not a test name (test_...)" >&2; exit 2 ;;
    esac
    if [ ! -f "$build/test/$name" ] || [ ! -x "$build/test/$name" ]; then
        echo "run.sh: no test $name in $build/test" >&2
        exit 2
    fi
    [ "$name" = "$1" ] && return
    want=${1#*:}
    [ -n "$want" ] || { echo "run.sh: '$1': no part named after the ':'" >&2; exit 2; }
    have=$("$build/test/$name" --list) || { echo "run.sh: $name --list failed" >&2; exit 2; }
    for part in $(echo "$want" | tr ',' ' '); do
        if ! printf '%s\n' "$have" | grep -qxF -- "$part"; then
            listed=$(printf '%s' "$have" | tr '\n' ' ')
            echo "run.sh: $name has no part '$part' (its parts: ${listed:-none})" >&2
            exit 2
        fi
    done
}
for spec in "$@"; do check_spec "$spec"; done
if [ $# -eq 0 ]; then
    for t in "$build"/test/test_*; do
        [ -f "$t" ] && [ -x "$t" ] && set -- "$@" "$(basename "$t")"
    done
fi

passed=0
failed=0
log=$(mktemp "${TMPDIR:-/tmp}/shmkv-test-log.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT
trap 'exit 130' INT TERM

for spec in "$@"; do
    name=${spec%%:*}
    parts=
    [ "$name" = "$spec" ] || parts=$(echo "${spec#*:}" | tr ',' ' ')
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # the parts are separate arguments
    timeout -k 10 "$limit" "$build/test/$name" $parts >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %-24s %8s s\n' "$spec" "$secs"
        if [ -n "$SHMKV_TEST_VERBOSE" ]; then sed 's/^/    /' "$log"; fi
    else
        failed=$((failed + 1))
        if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
            why="timed out after $limit s"
        else
            why="exit status $rc"
        fi
        printf 'FAIL %-24s %8s s (%s)\n' "$spec" "$secs" "$why"
        lines=$(wc -l <"$log")
        if [ "$lines" -gt 200 ]; then
            echo "    ... ($((lines - 200)) earlier lines omitted)"
        fi
        tail -n 200 "$log" | sed 's/^/    /'
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
