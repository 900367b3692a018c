# shellcheck shell=bash
# cli_harness.sh - what the tests of the shmkv command-line tool share
# (test_cli.sh, test_cli_write.sh): sourced, not run, as
#
#     . "$src/test/cli_harness.sh" TEST_NAME "$@"
#
# with $here the test's directory (BUILD/test or BUILD/asan/test) and $src
# the source tree above it.  It answers --list (a test with no parts, as
# test/run.sh asks) and refuses other arguments, then sets:
#   tool        "$here/../shmkv"
#   T           a private directory under /dev/shm, removed on exit
#   SHMKV_DIR   $T/tables (exported), F=$T/files for dumps and outputs
# and the checks below, each counted in passed or failed; cli_end prints
# "N passed, M failed" and gives the exit status.

cli_name=$1
shift
case ${1-} in
'') ;;
--list) exit 0 ;;
*) echo "usage: $cli_name [--list] (it has no parts)" >&2; exit 2 ;;
esac

# shellcheck disable=SC2154 # $here is set by the test that sources this
tool=$here/../shmkv
[ -x "$tool" ] || { echo "$cli_name: $tool not built"; exit 1; }
command -v python3 >/dev/null || { echo "$cli_name: needs python3"; exit 1; }

T=$(mktemp -d /dev/shm/shmkv-cli-test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
export SHMKV_DIR=$T/tables
mkdir "$SHMKV_DIR"
F=$T/files
mkdir "$F"

passed=0 failed=0
ok() { passed=$((passed + 1)); }
nok() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}
# run WANT_RC DESCRIPTION -- COMMAND...: stdout in $F/out, stderr in $F/err
run() {
    local want=$1 desc=$2 rc
    shift 3
    "$@" >"$F/out" 2>"$F/err"
    rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok
    else
        nok "$desc: exit $rc, expected $want"
        head -c 600 "$F/err" | sed 's/^/    stderr: /'
    fi
}
s() { "$tool" "$@"; }   # shorthand
out_is() { # DESC EXPECTED: stdout of the last run, exactly
    if [ "$(cat "$F/out")" = "$2" ]; then ok; else nok "$1: stdout '$(head -c 200 "$F/out")', expected '$2'"; fi
}
err_has() { # DESC TEXT: stderr of the last run contains TEXT
    if grep -qF -- "$2" "$F/err"; then ok; else nok "$1: stderr lacks '$2': $(head -c 300 "$F/err")"; fi
}
out_has() {
    if grep -qF -- "$2" "$F/out"; then ok; else nok "$1: stdout lacks '$2': $(head -c 300 "$F/out")"; fi
}
check() { # DESC COMMAND...: passes if the command succeeds
    local desc=$1
    shift
    if "$@"; then ok; else nok "$desc"; fi
}
nkeys() { s stats "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"])'; }

cli_end() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
