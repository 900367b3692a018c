#!/usr/bin/env bash
# test_bench.sh - the benchmark's own correctness checks, at a tiny size.
#
# Runs from BUILD/test (or BUILD/asan/test) and uses "$(dirname "$0")/../shmkv-bench".
#  - every system the bench can run here (shmkv-bench --list-systems), every
#    phase, one run each way: 20,000 keys and MIX for 1 s with 2 processes;
#    10,000 keys with 2x2 threads, key and value size ranges and Zipf keys;
#    10,000 keys with gets in batches of 8; MIX's updates as puts (--op
#    put) and as increments of counters (--op incr, one at a time, in
#    batches, with threads); PUT in batches (--put-batch); GET by the
#    lean loop (--lean-gets):
#    each must exit 0 and report every phase of every system ok with no
#    mismatch (each system that has no increment or no batch of puts is
#    left out of those, saying so);
#  - shmkv-sized (told the key count) makes its index whole up front: no
#    split, where shmkv splits;
#  - cache mode (--cache 50: shmkv-cache, and memcached evicting) passes
#    with misses allowed, and --hitratio gives plausible ratios;
#  - --self-test-corrupt (one expected value flipped: a get's, or with
#    --op incr an increment's) must make each system fail with a mismatch
#    (and shmkv's lean GET);
#  - --queue: every cell of every queue system passes, and
#    --self-test-corrupt fails each;
#  - bench/scaling.sh makes its tables, again the same from its raw files,
#    and fails with a failing run;
#  - SIGINT in the middle of a run must leave no server, worker or file;
#  - --help lists every option, each one the parser takes; bad usage exits 2.
# Nothing may be left behind: shmkv and LMDB files go to a private directory
# under /dev/shm, the servers' directories to a private $TMPDIR, and both
# must be empty at the end, with no process naming them still alive.
# Prints "N passed, M failed" and exits non-zero if anything failed.
set -u

# One whole, no parts: --list lists none (test/run.sh asks), and any other
# argument is a usage error.
case ${1-} in
'') ;;
--list) exit 0 ;;
*) echo "usage: test_bench [--list] (it has no parts)" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
bench=$here/../shmkv-bench
[ -x "$bench" ] || { echo "test_bench: $bench not built"; exit 1; }

T=$(mktemp -d /dev/shm/shmkv-bench-test.XXXXXX) || exit 1
TD=$(mktemp -d /tmp/sbt.XXXXXX) || exit 1
cleanup() {
    # anything of ours still running (a failed test) is stopped first
    for p in $(procs_naming "$T" "$TD"); do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T" "$TD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$T/files" "$T/out"
export TMPDIR=$TD

passed=0 failed=0
ok() { passed=$((passed + 1)); }
nok() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}

# PIDs of processes (not this shell's) whose command line mentions $1 or $2.
procs_naming() {
    local f pid cmd
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [ "$pid" = $$ ] && continue
        cmd=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
        case $cmd in *"$1"* | *"$2"*) echo "$pid" ;; esac
    done
}

# Nothing left: no files, no server directories, no boost segment of bench
# process $1, no process naming our directories.
check_clean() {
    local what=$1 pid=$2 left
    left=$(find "$T/files" "$TD" -mindepth 1 2>/dev/null)
    if [ -n "$left" ]; then nok "$what: left files behind: $left"; else ok; fi
    left=$(ls /dev/shm | grep "^shmkv-bench-boost\.$pid\." || true)
    if [ -n "$left" ]; then nok "$what: left a Boost segment: $left"; else ok; fi
    left=$(procs_naming "$T/files" "$TD")
    if [ -n "$left" ]; then
        nok "$what: processes still running: $(for p in $left; do tr '\0' ' ' </proc/$p/cmdline; echo; done)"
    else
        ok
    fi
}

# bench NAME ARGS...: run the bench in the background (its PID in $bpid),
# output in $T/out/NAME.{out,err}, exit status in $brc.
bench() {
    local name=$1
    shift
    "$bench" --dir "$T/files" "$@" >"$T/out/$name.out" 2>"$T/out/$name.err" &
    bpid=$!
    wait $bpid
    brc=$?
}

show() {
    sed 's/^/    | /' "$T/out/$1.out" "$T/out/$1.err" | tail -n 40
}

systems=$("$bench" --list-systems 2>"$T/out/list.err")
if [ $? -ne 0 ] || [ -z "$systems" ]; then
    nok "--list-systems failed: $(cat "$T/out/list.err")"
    echo "$passed passed, $failed failed"
    exit 1
fi
echo "systems here: $(echo $systems)"
sed 's/^/    (/; s/$/)/' "$T/out/list.err"
list=$(echo $systems | tr ' ' ,)
nsys=$(echo "$systems" | wc -l)

# A passing run of the systems LIST (comma-separated): exit 0, every
# system x phase in the TSV with ok = 1 and no mismatch, nothing left behind.
expect_pass_on() {
    local list=$1 nsys name=$2 phases=$3
    nsys=$(echo "$list" | tr , '\n' | wc -l)
    shift 3
    bench "$name" --system "$list" --tsv "$T/out/$name.tsv" "$@"
    if [ $brc -ne 0 ]; then
        nok "$name: exit status $brc"
        show "$name"
    else
        ok
    fi
    local rows bad
    rows=$(awk -F'\t' 'NR > 1 && $4 == 1 && $9 == 0' "$T/out/$name.tsv" 2>/dev/null | wc -l)
    if [ "$rows" -ne $((nsys * phases)) ]; then
        nok "$name: $rows passing system x phase rows, expected $((nsys * phases))"
        cat "$T/out/$name.tsv" 2>/dev/null | sed 's/^/    | /'
    else
        ok
    fi
    bad=$(grep -cE 'FAILED|[1-9][0-9]* wrong|mismatch' "$T/out/$name.out" "$T/out/$name.err" |
          awk -F: '{ s += $2 } END { print s + 0 }')
    if [ "$bad" -ne 0 ]; then nok "$name: the output reports failures"; show "$name"; else ok; fi
    check_clean "$name" $bpid
}
expect_pass() { expect_pass_on "$list" "$@"; }   # every system here

expect_pass plain 4 --keys 20000 --mix-seconds 1
expect_pass threads-ranges-zipf 4 --keys 10000 --mix-ops 20000 --procs 2 --threads 2 \
    --key-size 8-40 --val-size 8-200 --dist zipf --mix-get 80
expect_pass batch 3 --keys 10000 --mix-seconds 1 --batch 8 --phases put,mix,get --json
expect_pass put-op 4 --keys 10000 --mix-seconds 0.3 --mix-get 50 --op put
# GET by the lean loop (keys first, then the gets, then the checks), after
# a MIX whose updates it must see, with an odd count per worker
expect_pass lean 4 --keys 10001 --mix-ops 20000 --mix-get 50 --procs 3 --lean-gets --val-size 8-100
# the ideal's gets with shmkv's guards (a directory, bounds, a version
# word): the same answers, keys and values of every size
if echo "$systems" | grep -qx ideal; then
    expect_pass_on ideal ideal-guards 4 --keys 20000 --mix-ops 20000 --mix-get 50 --procs 2 --ideal-guards \
        --key-size 3-40 --val-size 8-300
    expect_pass_on ideal ideal-guards-pad 4 --keys 5000 --mix-seconds 0.3 --ideal-guards --ideal-pad 7
    # its guarded puts and deletes under shard locks, its gets in batches
    # of 16 (prefetch stages), three processes racing over the same shards
    expect_pass_on ideal ideal-guards-batch 4 --keys 30000 --mix-ops 30000 --mix-get 60 --procs 3 --ideal-guards \
        --batch 16 --key-size 3-40 --val-size 8-300
    # its puts with shmkv's lock and three shard lines (the log's tail and
    # live bytes behind a chunk header, the counters on a line of their
    # own), padded before and after the look: the same answers
    expect_pass_on ideal ideal-shmkv-lines 4 --keys 30000 --mix-ops 30000 --mix-get 50 --procs 3 --ideal-guards \
        --ideal-shmkv-lines --ideal-put-pad 3 --ideal-put-prepad 5 --key-size 3-40 --val-size 8-300
fi

# shmkv-sized is shmkv told the key count at creation: its index made
# whole up front (no split), while shmkv's grows (splits); both pass
expect_pass_on shmkv,shmkv-sized sized 2 --keys 100000 --phases put,get --procs 2
table_after() { # the table line that follows system $1's PUT line
    awk -v s="$1" '$1 == s && $2 == "PUT" { f = 1 } f && /table:/ { print; exit }' "$T/out/sized.out"
}
if table_after shmkv-sized | grep -q ', 0 splits,' && table_after shmkv | grep -Eq ', [1-9][0-9]* splits,'; then
    ok
else
    nok "sized: shmkv-sized split its index, or shmkv did not"; show sized
fi

# --op incr and --put-batch: the systems that have an increment, or a batch
# of puts; the others are left out, saying why
ilist=$("$bench" --list-systems --op incr 2>"$T/out/ilist.err" | paste -sd, -)
blist=$("$bench" --list-systems --put-batch 16 2>"$T/out/blist.err" | paste -sd, -)
echo "with --op incr: $ilist; with --put-batch: $blist"
for want in shmkv lmdb redis redis-p16 memcached memcached-p16; do
    echo "$systems" | grep -qx "$want" || continue
    case ,$ilist, in *,$want,*) ok ;; *) nok "--op incr leaves out $want" ;; esac
done
for want in shmkv lmdb redis redis-p16; do
    echo "$systems" | grep -qx "$want" || continue
    case ,$blist, in *,$want,*) ok ;; *) nok "--put-batch leaves out $want" ;; esac
done
if echo "$systems" | grep -qx boost; then
    if grep -q 'boost: --op incr not supported' "$T/out/ilist.err"; then ok; else nok "boost: no word on --op incr"; fi
fi
if echo "$systems" | grep -qx memcached; then
    if grep -q 'memcached: --put-batch not supported' "$T/out/blist.err"; then ok; else nok "memcached: no word on --put-batch"; fi
fi
expect_pass_on "$ilist" incr 4 --keys 10000 --mix-seconds 0.5 --mix-get 80 --op incr
# every system's MIX did increments (the incr latency columns, 25-28, are filled)
if awk -F'\t' '$2 == "MIX" && $25 == "-" { bad = 1 } END { exit bad }' "$T/out/incr.tsv"; then
    ok
else
    nok "incr: a MIX without increments"; cat "$T/out/incr.tsv"
fi
expect_pass_on "$ilist" incr-batch-threads 3 --keys 10000 --mix-ops 40000 --mix-get 50 --op incr \
    --batch 8 --procs 2 --threads 2 --phases put,mix,get
expect_pass_on "$blist" put-batch 4 --keys 10000 --mix-seconds 0.3 --put-batch 16
expect_pass_on "$blist" put-batch-odd 2 --keys 10001 --put-batch 7 --procs 3 --key-size 8-40 \
    --val-size 8-300 --phases put,get
pbi=shmkv  # LMDB too where it was built (a machine without its headers has none)
echo "$systems" | grep -qx lmdb && pbi=shmkv,lmdb
expect_pass_on "$pbi" put-batch-incr 3 --keys 10000 --mix-ops 10000 --put-batch 16 --op incr \
    --phases put,mix,get

# Cache mode (--cache 50): shmkv-cache and (if here) memcached evict; misses
# and deletes that find nothing are fine, wrong values are not.
csys=shmkv,shmkv-cache
echo "$systems" | grep -qx memcached && csys=$csys,memcached
ncsys=$(echo $csys | tr , '\n' | wc -l)
bench cache --system "$csys" --cache 50 --keys 20000 --mix-seconds 1 --tsv "$T/out/cache.tsv"
if [ $brc -ne 0 ]; then nok "cache: exit status $brc"; show cache; else ok; fi
rows=$(awk -F'\t' 'NR > 1 && $4 == 1 && $9 == 0' "$T/out/cache.tsv" 2>/dev/null | wc -l)
if [ "$rows" -ne $((ncsys * 4)) ]; then
    nok "cache: $rows passing system x phase rows, expected $((ncsys * 4))"; show cache
else
    ok
fi
# the cache really evicted: its MIX gets missed, and it is marked a cache
if awk -F'\t' '$1 == "shmkv-cache" && $2 == "MIX" && $22 == 1 && $24 > 0 { f = 1 } END { exit !f }' \
        "$T/out/cache.tsv" 2>/dev/null; then ok; else nok "cache: shmkv-cache MIX had no misses"; show cache; fi
check_clean cache $bpid

# Hit ratio (--hitratio): one tiny cell; every system's ratio in (0, 1),
# and shmkv within 5 points of the exact LRU of the same budget.
hsys=shmkv,lru
echo "$systems" | grep -qx memcached && hsys=$hsys,memcached
bench hitratio --hitratio --system "$hsys" --keys 5000 --requests 20000 --warmup 20000 \
    --skews 0.99 --cache-pcts 10 --tsv "$T/out/hitratio.tsv"
if [ $brc -ne 0 ]; then nok "hitratio: exit status $brc"; show hitratio; else ok; fi
if awk -F'\t' -v mc="$(echo $hsys | grep -c memcached)" 'NR == 2 { n = 1
        if (!($4 > 0 && $4 < 1 && $5 > 0 && $5 < 1)) bad = 1
        if (mc && !($6 > 0 && $6 < 1)) bad = 1
        if ($4 < $5 - 0.05) bad = 1 } END { exit !(n && !bad) }' "$T/out/hitratio.tsv" 2>/dev/null; then
    ok
else
    nok "hitratio: implausible ratios"; show hitratio; cat "$T/out/hitratio.tsv" 2>/dev/null
fi
check_clean hitratio $bpid

# JSON: one result per system and phase, each ok
n=$(grep -c '"ok": true' "$T/out/batch.out")
if [ "$n" -lt $((nsys * 3 * 2)) ]; then nok "batch --json: $n ok entries"; show batch; else ok; fi

# A wrong expectation must fail the run, with the mismatch named:
# expect_mismatch NAME WHAT ARGS...: exit 1, and the one mismatch reported
# matches WHAT (a grep pattern).
expect_mismatch() {
    local name=$1 what=$2
    shift 2
    bench "$name" --self-test-corrupt "$@"
    if [ $brc -eq 1 ] && grep -q "1 mismatches; the first: .*$what" "$T/out/$name.err"; then
        ok
    else
        nok "$name: exit status $brc, expected 1 with a mismatch ($what) reported"
        show "$name"
    fi
    check_clean "$name" $bpid
}
# a get's, in every system
for s in $systems; do
    expect_mismatch "corrupt-$s" ": got " --system "$s" --keys 5000 --phases put,get
done
# an increment's, in every system that has increments
for s in $(echo "$ilist" | tr , ' '); do
    expect_mismatch "corrupt-incr-$s" "incrementing key" --system "$s" --keys 5000 --phases put,mix \
        --op incr --mix-ops 2000 --mix-get 0
done
# the ideal's guarded gets are checked as its plain ones
if echo "$systems" | grep -qx ideal; then
    expect_mismatch corrupt-ideal-guards ": got " --system ideal --keys 5000 --phases put,get --ideal-guards
    expect_mismatch corrupt-ideal-batch ": got " --system ideal --keys 5000 --phases put,get --ideal-guards --batch 16
fi
# the lean GET checks every value too
expect_mismatch corrupt-lean ": got " --system shmkv --keys 5000 --phases put,get --lean-gets
# and GET checks every value that PUT stored in batches
expect_mismatch corrupt-put-batch ": got " --system shmkv --keys 5000 --phases put,get --put-batch 8

# Queues (--queue): every cell of every queue system here passes (each
# message counted and checksummed), the latency and the goals are reported,
# POSIX message queues' limit is put back, and a miscounted message
# (--self-test-corrupt) fails each system.  A cell shorter than
# --queue-min-ms is measured again with more messages (shmkv's 64 B
# batches at least: 3 000 messages pass in well under 5 ms).
msg_max=$(cat /proc/sys/fs/mqueue/msg_max 2>/dev/null)
bench queue --queue --queue-items 3000 --queue-wakes 50 --queue-min-ms 5
cells=$(grep -cE '^[12] +[12] +(64|4096) +(1|64) \|( +[0-9]+\.[0-9]+)+ \|' "$T/out/queue.out")
if [ $brc -eq 0 ] && [ "$cells" -eq 16 ] && grep -q '^shmkv  *[0-9.]* ' "$T/out/queue.out" &&
    grep -q '^  wake-up p50 < 20 us' "$T/out/queue.out" && ! grep -q FAILED "$T/out/queue.out" &&
    grep -qE '^  shmkv [0-9]+.*\(1P1C 64 B x64\)$' "$T/out/queue.out"; then
    ok
else
    nok "--queue: exit status $brc, $cells cells of 16 passing"; show queue
fi
if [ "$(cat /proc/sys/fs/mqueue/msg_max 2>/dev/null)" = "$msg_max" ]; then ok; else nok "--queue left msg_max changed"; fi
check_clean queue $bpid
qsys=$(sed -n 's/^# \(shmkv\|mq\|pipe\|redis\|redis-p\|shf\)  .*/\1/p' "$T/out/queue.out")
for s in $qsys; do
    bench "qcorrupt-$s" --queue --system "$s" --queue-items 500 --queue-wakes 10 --self-test-corrupt
    if [ $brc -eq 1 ] && grep -q 'checksums differ' "$T/out/qcorrupt-$s.err"; then
        ok
    else
        nok "$s --queue --self-test-corrupt: exit status $brc, expected 1 with differing checksums"
        show "qcorrupt-$s"
    fi
    check_clean "qcorrupt-$s" $bpid
done

# SIGINT in the middle of MIX: the bench dies of it and leaves nothing.
for s in $systems; do
    case $s in redis | memcached) ;; *) continue ;; esac
    "$bench" --dir "$T/files" --system "$s" --keys 20000 --mix-seconds 60 \
        >"$T/out/int-$s.out" 2>"$T/out/int-$s.err" &
    bpid=$!
    for _ in $(seq 100); do
        grep -q '^[a-z0-9-]* *PUT' "$T/out/int-$s.out" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.3
    kill -INT $bpid
    wait $bpid
    brc=$?
    if [ $brc -eq 130 ]; then ok; else nok "$s SIGINT: exit status $brc, expected 130"; show "int-$s"; fi
    check_clean "int-$s" $bpid
done

# --stall-probe: a line per CPU and a summary whose figures parse
ncpu=$(getconf _NPROCESSORS_ONLN)
"$bench" --stall-probe 0.2 >"$T/out/stall.out" 2>&1
brc=$?
if [ $brc -eq 0 ] && [ "$(grep -c '^cpu [0-9]*: [0-9]* reads/s' "$T/out/stall.out")" -eq "$ncpu" ] &&
    grep -Eq "^stall probe: $ncpu CPUs x 0.2 s: per CPU, gaps > 20 us [0-9]+/s, .* longest gap [0-9.]+ us$" \
        "$T/out/stall.out"; then
    ok
else
    nok "--stall-probe: exit status $brc, or output not as expected"; cat "$T/out/stall.out"
fi

# --help lists every option, and every option it lists is one the parser
# takes: given a value and then a stray argument, each must be refused as
# bad usage (2), never as an option it does not know.
"$bench" --help >"$T/out/help.out" 2>&1
brc=$?
listed=$(sed -nE 's/^  (-[a-z], )?--([a-z-]+).*/\2/p' "$T/out/help.out")
missing=
for o in procs threads keys key-size val-size system list-systems phases mix-get op mix-seconds \
         mix-ops dist zipf-s batch lean-gets put-batch pipeline runs sample progress json tsv presize no-prefault \
         dir quick cache stall-probe self-test-corrupt help hitratio requests warmup skews \
         cache-pcts; do
    echo "$listed" | grep -qx -- "$o" || missing="$missing --$o"
done
if [ $brc -eq 0 ] && [ -z "$missing" ]; then ok; else nok "--help: exit status $brc, not listing$missing"; fi
unknown=
for o in $listed; do
    [ "$o" = help ] && continue
    "$bench" --dir "$T/files" "--$o" x stray >/dev/null 2>"$T/out/opt.err"
    rc=$?
    if [ $rc -ne 2 ] || grep -q 'unrecognized option' "$T/out/opt.err"; then
        unknown="$unknown --$o ($rc)"
    fi
done
if [ -n "$listed" ] && [ -z "$unknown" ]; then ok; else nok "options in --help the parser refuses:$unknown"; fi
if "$bench" -h | cmp -s - "$T/out/help.out"; then ok; else nok "-h is not --help"; fi

# bench/scaling.sh: a table per phase, a column per process count, each
# cell a figure, made again the same from its raw files (--tables); a run
# that fails makes it fail.
root=$here
while [ "$root" != / ] && [ ! -x "$root/bench/scaling.sh" ]; do root=$(dirname "$root"); done
sc=$root/bench/scaling.sh
if [ -x "$sc" ]; then
    BENCH=$bench "$sc" --procs 1,2 --keys 5000 --runs 1 --mix-seconds 1 --systems shmkv \
        --dir "$T/files" --out "$T/out/scaling" >"$T/out/scaling.out" 2>&1
    rc=$?
    rows=$(grep -cE '^\| shmkv \| [0-9.]+ \| [0-9.]+ \| [0-9.]+× \|$' "$T/out/scaling/SCALING.md" 2>/dev/null)
    if [ $rc -eq 0 ] && [ "$rows" = 3 ]; then ok; else nok "scaling.sh: exit status $rc, $rows rows of figures"; cat "$T/out/scaling.out"; fi
    cp "$T/out/scaling/SCALING.md" "$T/out/scaling.md"
    "$sc" --tables "$T/out/scaling" >/dev/null 2>&1
    if cmp -s "$T/out/scaling.md" "$T/out/scaling/SCALING.md"; then ok; else nok "scaling.sh --tables made other tables"; fi
    BENCH=$bench "$sc" --procs 1 --keys 5000 --runs 1 --systems nosuch --dir "$T/files" \
        --out "$T/out/scaling-bad" >/dev/null 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then ok; else nok "scaling.sh with a failing run exited 0"; fi
else
    nok "bench/scaling.sh not found above $here"
fi

# Bad usage is refused.
for args in "--procs 0" "--val-size 4" "--key-size 9-3" "--system nosuch" "--dist pareto" \
            "--phases get" "--mix-get 101" "--cache 0" "--hitratio --skews 0" \
            "--hitratio --system nosuch" "--stall-probe 0" "--stall-probe x" "--nosuch" \
            "stray" "--keys" "--op nope" "--op" "--put-batch 0" "--put-batch 1025" \
            "--op incr --cache 50" "--op incr --system shmkv-cache" "--op incr --val-size 16"; do
    # shellcheck disable=SC2086
    "$bench" --dir "$T/files" $args >/dev/null 2>&1
    rc=$?
    if [ $rc -eq 2 ]; then ok; else nok "$args: exit status $rc, expected 2"; fi
done
# a system without what --op incr or --put-batch measure, named: refused
for args in "--op incr --system boost" "--put-batch 4 --system memcached"; do
    # shellcheck disable=SC2086 # the words are separate arguments
    set -- $args
    echo "$systems" | grep -qx "$4" || continue
    "$bench" --dir "$T/files" "$@" >/dev/null 2>"$T/out/refused.err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "$4: .* not supported" "$T/out/refused.err"; then
        ok
    else
        nok "$args: exit status $rc, expected 2 with 'not supported'"
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
