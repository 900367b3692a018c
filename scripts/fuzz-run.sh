#!/bin/sh
# fuzz-run.sh SECONDS TARGET... - run the libFuzzer targets (build/fuzz/TARGET).
#
# For each target:
#  1. its regression inputs, fuzz/regressions/TARGET/* (inputs that once
#     broke the library), each run once: every one must pass;
#  2. fuzzing for SECONDS on a copy of its seed corpus fuzz/corpus/TARGET.
#     A crash, a hang (-timeout=10) or a leak fails the run; the input is
#     kept as build/fuzz/artifacts/TARGET-crash-... (reproduce with
#     build/fuzz/TARGET FILE) and fuzzing resumes for the time left (at most
#     20 times), so one bug does not hide the next and the figures cover
#     the whole time.
#
# The targets keep their tables in memory (memfds); the corpus copy lives in
# a private temporary directory (under $TMPDIR, else /dev/shm, else /tmp),
# which is also the targets' TMPDIR (they create their template tables
# there once at start-up), removed afterwards.  fuzz_ops' inputs are
# limited to 1024 bytes (some 300 operations): longer programs run slower
# and seldom reach more.  A target with a dictionary (fuzz/TARGET.dict)
# fuzzes with it.  Prints libFuzzer's final stats, each distinct failure once, and
# one summary line per target:
#   FUZZ RESULT target=T seconds=S execs=N cov=C ft=F corpus=K crashes=X
#   regressions=P/R status=ok|FAILED
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 SECONDS TARGET..." >&2
    exit 2
fi
secs=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
base=${TMPDIR:-/dev/shm}
[ -d "$base" ] && [ -w "$base" ] || base=/tmp
work=$(mktemp -d "$base/shmkv-fuzz-run.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
arts=$root/build/fuzz/artifacts
mkdir -p "$arts"
status=0
for t in "$@"; do
    bin=$root/build/fuzz/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz-run: $bin not built (make fuzz)" >&2
        status=1
        continue
    fi
    mkdir -p "$work/$t/corpus" "$work/$t/tmp"
    export TMPDIR="$work/$t/tmp"
    tstatus=ok
    case $t in
    fuzz_ops) limits=-max_len=1024 ;;
    *) limits= ;;
    esac
    # a target's dictionary of the format's constants (fuzz/TARGET.dict)
    [ -f "$root/fuzz/$t.dict" ] && limits="$limits -dict=$root/fuzz/$t.dict"

    # 1. regressions
    reg_pass=0
    reg_all=0
    for f in "$root/fuzz/regressions/$t"/*; do
        [ -f "$f" ] || continue
        reg_all=$((reg_all + 1))
        if "$bin" -timeout=10 "$f" >"$work/$t/reg.log" 2>&1; then
            reg_pass=$((reg_pass + 1))
        else
            tstatus=FAILED
            echo "fuzz-run: $t: regression input $(basename "$f") FAILS:"
            grep -E 'runtime error|ERROR:|SUMMARY|^fuzz_' "$work/$t/reg.log" | head -n 3 |
                sed 's/^/    /'
        fi
    done

    # 2. fuzzing, resumed after each failure while time is left
    if [ -d "$root/fuzz/corpus/$t" ]; then
        cp "$root/fuzz/corpus/$t"/* "$work/$t/corpus/" 2>/dev/null
    fi
    echo "fuzz-run: $t for $secs s ($(ls "$work/$t/corpus" | wc -l) seeds)"
    left=$secs
    execs=0
    crashes=0
    runs=0
    : >"$work/$t/failures"
    while [ "$left" -gt 0 ] && [ $runs -lt 20 ]; do
        runs=$((runs + 1))
        log=$work/$t/log.$runs
        start=$(date +%s)
        "$bin" -max_total_time="$left" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 $limits \
            -artifact_prefix="$arts/$t-" "$work/$t/corpus" >"$log" 2>&1
        rc=$?
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        execs=$((execs + ${n:-0}))
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        [ -n "$last" ] && lastline=$last
        used=$(($(date +%s) - start))
        [ $used -lt 1 ] && used=1
        left=$((left - used))
        [ $rc -eq 0 ] && break
        crashes=$((crashes + 1))
        tstatus=FAILED
        # one line that says what broke
        what=$(grep -m1 -E 'runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer|ERROR: libFuzzer|^fuzz_[a-z]*: ' "$log")
        art=$(sed -n "s/.*Test unit written to \(.*\)/\1/p" "$log" | tail -n 1)
        echo "$what  [$art]" >>"$work/$t/failures"
    done
    grep -E '^stat::' "$log" | sed "s/^/    $t: /"
    cov=$(echo "${lastline:-}" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "${lastline:-}" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "${lastline:-}" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    if [ -s "$work/$t/failures" ]; then
        echo "fuzz-run: $t: $crashes failure(s); distinct:"
        sed 's/  \[.*//' "$work/$t/failures" | sed 's/0x[0-9a-f]*/ADDR/g' | sort | uniq -c |
            sed 's/^/    /'
        echo "    inputs kept:"
        sed -n 's/.*  \[\(.*\)\]$/        \1/p' "$work/$t/failures"
    fi
    [ "$tstatus" = ok ] || status=1
    echo "FUZZ RESULT target=$t seconds=$secs execs=$execs cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} crashes=$crashes regressions=$reg_pass/$reg_all status=$tstatus"
done
exit $status
