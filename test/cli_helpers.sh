# cli_helpers.sh - what the shell tests of the shmkv tool (test_cli.sh,
# test_cli_list.sh) share; they source it from the source tree, found above
# their build directory:
#     here=$(cd "$(dirname "$0")" && pwd) src=$here
#     while [ "$src" != / ] && [ ! -f "$src/test/cli_helpers.sh" ]; do src=$(dirname "$src"); done
#     . "$src/test/cli_helpers.sh"
# It sets tool ($here/../shmkv), T (a private directory under /dev/shm,
# removed on exit) with the tables in SHMKV_DIR=$T/tables and files in
# F=$T/files, and the checks below, which count into passed and failed.

# One whole, no parts: --list lists none (test/run.sh asks), and any other
# argument is a usage error.
case ${1-} in
'') ;;
--list) exit 0 ;;
*) echo "usage: $(basename "$0") [--list] (it has no parts)" >&2; exit 2 ;;
esac

tool=$here/../shmkv
[ -x "$tool" ] || { echo "$(basename "$0"): $tool not built"; exit 1; }
command -v python3 >/dev/null || { echo "$(basename "$0"): needs python3"; exit 1; }

T=$(mktemp -d /dev/shm/shmkv-cli-test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
export SHMKV_DIR=$T/tables
mkdir "$SHMKV_DIR"
F=$T/files   # dumps and outputs
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
