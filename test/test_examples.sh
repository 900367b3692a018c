#!/usr/bin/env bash
# test_examples.sh - the example programs of examples/ are what the README
# shows, and they build and run.
#
# Runs from BUILD/test and uses BUILD/examples/hello and BUILD/shmkv.  The
# README's "Usage" code must be examples/hello.c, byte for byte: the source
# tree is found above this script.  Tables go to a private SHMKV_DIR under
# /dev/shm, removed on exit.  Prints "N passed, M failed".
set -u

here=$(cd "$(dirname "$0")" && pwd)
hello=$here/../examples/hello
tool=$here/../shmkv
root=$here
while [ "$root" != / ] && ! [ -f "$root/examples/hello.c" -a -f "$root/README.md" ]; do
    root=$(dirname "$root")
done
[ -f "$root/examples/hello.c" ] || { echo "test_examples: no source tree above $here"; exit 1; }
for f in "$hello" "$tool"; do
    [ -x "$f" ] || { echo "test_examples: $f not built"; exit 1; }
done

T=$(mktemp -d /dev/shm/shmkv-examples-test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
export SHMKV_DIR=$T/tables
mkdir "$SHMKV_DIR"

passed=0 failed=0
check() { # DESC COMMAND...: passes if the command succeeds
    local desc=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $desc"; fi
}

# the first ```c block after "## Usage" in the README
awk '/^## Usage/ { usage = 1 } usage && /^```c$/ { code = 1; next } code && /^```$/ { exit } code' \
    "$root/README.md" >"$T/readme.c"
check "the README's Usage code is examples/hello.c" cmp "$T/readme.c" "$root/examples/hello.c"

"$hello" >"$T/out" 2>"$T/err"
rc=$?
check "hello exits 0 ($rc: $(cat "$T/err"))" test $rc -eq 0
check "hello prints the pair it put" test "$(cat "$T/out")" = "hello -> world"
check "hello leaves its table in SHMKV_DIR" test -f "$SHMKV_DIR/example"
check "the table holds the pair" test "$("$tool" get example hello)" = world
"$hello" >"$T/out" 2>"$T/err"
rc=$?
check "hello runs again on the existing table ($rc)" test $rc -eq 0 -a "$(cat "$T/out")" = "hello -> world"
check "the table still holds one pair" test "$("$tool" keys example | wc -l)" -eq 1

# the error path the README shows: a table it cannot open
SHMKV_DIR=$T/missing "$hello" >"$T/out" 2>"$T/err"
rc=$?
check "hello exits 1 when the table cannot be opened ($rc)" test $rc -eq 1
check "with the error on stderr ($(cat "$T/err"))" grep -q '^open: ' "$T/err"
check "and nothing on stdout" test ! -s "$T/out"

"$tool" rm example
check "no table left" test -z "$(ls -A "$SHMKV_DIR")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
