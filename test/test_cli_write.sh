#!/usr/bin/env bash
# test_cli_write.sh - the atomic writes of the shmkv command-line tool (incr,
# append, take, put's conditions) and keys/scan by cursor, as a user runs
# them, every option and exit status; then the same from several shell
# processes at once: increments, compare-and-swap loops, appends and takes
# whose totals must come out exact, and listings while others write.
#
# Runs from BUILD/test (or BUILD/asan/test) with test/cli_harness.sh: tables
# in a private directory under /dev/shm, removed on exit.  Prints "N passed,
# M failed" and exits non-zero if anything failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$here
while [ "$src" != / ] && [ ! -f "$src/test/cli_harness.sh" ]; do src=$(dirname "$src"); done
# shellcheck source=test/cli_harness.sh
. "$src/test/cli_harness.sh" test_cli_write "$@" || exit 1

rounds=200   # increments per process in the concurrent runs
case $here in
*/asan/*) rounds=50; echo "ASan build: $rounds increments per process instead of 200" ;;
esac

ttl_of() { s ttl t "$1"; }
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

s create t

# ---- help and usage ----------------------------------------------------------
for c in incr append take; do
    run 0 "help $c" -- s help "$c"
    out_has "help $c" "usage: shmkv $c NAME KEY"
done
run 0 "help put" -- s help put
for o in --keep-ttl --if-absent --if-present "--if-equal OLD"; do out_has "help put lists $o" "$o"; done
run 2 "incr: DELTA not a number" -- s incr t k x
err_has "bad DELTA message" "DELTA 'x': give a whole number"
run 2 "incr: DELTA 1.5" -- s incr t k 1.5
run 2 "incr: DELTA past int64" -- s incr t k 9223372036854775808
run 2 "incr: DELTA below int64" -- s incr t k -- -9223372036854775809
run 2 "incr: empty DELTA" -- s incr t k ''
run 2 "incr: a negative DELTA without --" -- s incr t k -5
err_has "negative DELTA without --" "put -- before arguments that start with -"
run 2 "incr: missing KEY" -- s incr t
run 2 "incr: too many arguments" -- s incr t k 1 2
run 2 "incr: --ttl not a number" -- s incr t k --ttl soon
run 2 "take: too many arguments" -- s take t k v
run 2 "take takes no --ttl" -- s take t k --ttl 5
run 2 "append takes no --ttl" -- s append t k v --ttl 5
run 2 "--if-absent is put's, not add's" -- s add t k v --if-absent
run 2 "--keep-ttl is put's, not incr's" -- s incr t k --keep-ttl
run 2 "--keep-ttl with --ttl" -- s put t k v --keep-ttl --ttl 5
err_has "--keep-ttl with --ttl" "give it or --ttl, not both"
run 2 "--keep-ttl with --ttl 0" -- s put t k v --ttl 0 --keep-ttl
run 2 "--if-absent with --if-present" -- s put t k v --if-absent --if-present
err_has "--if-absent with --if-present" "--if-absent contradicts --if-present"
run 2 "--if-absent with --if-equal" -- s put t k v --if-equal v --if-absent
err_has "--if-absent with --if-equal" "--if-absent contradicts --if-equal"
run 2 "--if-equal without OLD" -- s put t k v --if-equal
run 2 "--if-equal OLD not hex" -- s --hex put t 6b 76 --if-equal zz
err_has "OLD not hex" "OLD 'zz' is not valid hex"
run 2 "incr: a --hex KEY that is not hex" -- s --hex incr t zz
run 1 "incr on a missing table" -- s incr nope k
run 1 "append to a missing table" -- s append nope k v
run 1 "take from a missing table" -- s take nope k
run 1 "a conditional put to a missing table" -- s put nope k v --if-absent
check "the usage errors wrote nothing" test "$(nkeys t)" -eq 0

# ---- incr ----------------------------------------------------------------------
run 0 "incr of an absent key" -- s incr t n
out_is "an absent key counts as 0" 1
run 0 "incr by 41" -- s incr t n 41
out_is "incr by 41" 42
run 0 "incr by -50" -- s incr t n -- -50
out_is "incr by -50" -8
run 0 "incr by +5" -- s incr t n +5
out_is "incr by +5" -3
run 0 "incr by 0" -- s incr t n 0
out_is "incr by 0" -3
run 0 "get reads the counter as text" -- s get t n
out_is "the counter is decimal text" -3
run 0 "a counter made by put" -- s put t n 0099
run 0 "incr of it" -- s incr t n
out_is "leading zeros parse" 100
run 0 "put the largest int64" -- s put t big 9223372036854775807
run 3 "incr past the largest int64" -- s incr t big
err_has "overflow message" "would overflow"
run 0 "it is unchanged" -- s get t big
out_is "unchanged after overflow" 9223372036854775807
run 0 "the smallest int64" -- s incr t big -- -9223372036854775807
out_is "down to 0" 0
run 0 "DELTA -9223372036854775808" -- s incr t big -- -9223372036854775808
out_is "the smallest int64" -9223372036854775808
run 3 "incr below the smallest int64" -- s incr t big -- -1
err_has "underflow message" "would overflow"
run 0 "the smallest is unchanged" -- s get t big
out_is "unchanged after underflow" -9223372036854775808
for v in hello 12abc +1 ' 1' '1 ' -x -- 00000000000000000001 ''; do
    s put t word -- "$v"
    run 3 "incr of '$v'" -- s incr t word
    err_has "'$v' is not an integer" "is not an integer"
    check "'$v' is unchanged" test "$(s get t word)" = "$v"
done
s --hex put t 776f7264 2d   # "word" = "-"
run 3 "incr of '-'" -- s incr t word
check "'-' is unchanged" test "$(s get t word)" = -
# --hex and --base64 decode KEY; DELTA and the result stay decimal
run 0 "--hex incr" -- s --hex incr t 6b31 10
out_is "--hex incr prints decimal" 10
run 0 "--base64 incr" -- s --base64 incr t azE= 5
out_is "--base64 incr prints decimal" 15
run 0 "the key was k1" -- s get t k1
out_is "--hex key" 15
# expiry: a key incr creates gets --ttl; an existing key keeps its own
run 0 "incr creating a key with --ttl" -- s incr t e 7 --ttl 60000
left=$(ttl_of e)
check "it expires within 60 s ($left ms)" between "$left" 1 60000
run 0 "incr of it" -- s incr t e
out_is "it went on counting" 8
left=$(ttl_of e)
check "an increment keeps the expiry ($left ms)" between "$left" 1 60000
run 0 "incr of a key without expiry, with --ttl" -- s incr t n --ttl 100
check "an existing key keeps having none" test "$(ttl_of n)" -eq 0
run 0 "a counter living 300 ms" -- s incr t short 5 --ttl 300
sleep 0.5
run 1 "it has expired" -- s get t short
run 0 "incr of an expired key starts from 0" -- s incr t short 2
out_is "from 0" 2
check "and has no expiry" test "$(ttl_of short)" -eq 0

# ---- append -----------------------------------------------------------------------
run 0 "append to an absent key creates it" -- s append t a foo
run 0 "append again" -- s append t a bar
run 0 "get" -- s get t a
out_is "appended" foobar
printf 'x\000\377' >"$F/bin"
run 0 "append from standard input" -- s append t a <"$F/bin"
run 0 "append with - reads standard input" -- s append t a - <"$F/bin"
{ printf foobar; cat "$F/bin" "$F/bin"; } >"$F/want"
s get t a >"$F/got"
check "binary appends land whole, in order" cmp -s "$F/want" "$F/got"
run 0 "--hex append" -- s --hex append t 61 0a0b
s get t a | tail -c 2 | od -An -tx1 | tr -d ' \n' >"$F/tail"
check "--hex decodes the appended bytes" test "$(cat "$F/tail")" = 0a0b
run 0 "an empty append" -- s append t empty ''
check "makes an empty value" test "$(s get t empty | wc -c)" -eq 0
s put t x v --ttl 60000
run 0 "append to a pair with an expiry" -- s append t x w
run 0 "get" -- s get t x
out_is "appended to v" vw
left=$(ttl_of x)
check "append keeps the expiry ($left ms)" between "$left" 1 60000
s create small --max-bytes 256k
head -c 150000 /dev/zero | tr '\0' a >"$F/150k"
s put small v <"$F/150k"
run 3 "an append past the table's limit" -- s append small v <"$F/150k"
err_has "too large message" "too large"
check "the value is unchanged" test "$(s get small v | wc -c)" -eq 150000

# ---- take -------------------------------------------------------------------------
s put t tk hello
run 0 "take" -- s take t tk
out_is "take prints the value" hello
run 1 "the key is gone" -- s get t tk
run 1 "take of an absent key" -- s take t tk
err_has "take of an absent key" "no key \"tk\" in \"t\""
s put t tb <"$F/bin"
s take t tb >"$F/got"
check "take writes the exact bytes of a binary value" cmp -s "$F/bin" "$F/got"
s put t te ''
run 0 "take of an empty value" -- s take t te
check "prints nothing" test ! -s "$F/out"
run 0 "--hex take" -- s --hex put t 6b32 0001ff
run 0 "--hex take" -- s --hex take t 6b32
out_is "--hex take prints hex" 0001ff
s put t tx v --ttl 200
sleep 0.4
run 1 "take of an expired key" -- s take t tx

# ---- put --if-absent, --if-present, --if-equal, --keep-ttl ---------------------------
run 0 "--if-absent on an absent key" -- s put t c one --if-absent
run 1 "--if-absent on a present key" -- s put t c two --if-absent
err_has "--if-absent message" "key \"c\" exists in \"t\": not written (--if-absent)"
run 0 "get" -- s get t c
out_is "--if-absent changed nothing" one
s put t gone v --ttl 200
sleep 0.4
run 0 "--if-absent on an expired key" -- s put t gone w --if-absent
run 1 "--if-present on an absent key" -- s put t nokey v --if-present
err_has "--if-present message" "no key \"nokey\" in \"t\": not written (--if-present)"
run 1 "nothing was written" -- s get t nokey
run 0 "--if-present on a present key" -- s put t c three --if-present
run 0 "--if-equal with the value it holds" -- s put t c four --if-equal three
run 0 "get" -- s get t c
out_is "--if-equal wrote" four
run 1 "--if-equal with another value" -- s put t c five --if-equal three
err_has "--if-equal message" "key \"c\" in \"t\" holds another value than --if-equal gives: not written"
run 0 "get" -- s get t c
out_is "--if-equal changed nothing" four
run 1 "--if-equal on an absent key" -- s put t nokey v --if-equal v
err_has "--if-equal on an absent key" "no key \"nokey\" in \"t\": not written (--if-equal)"
run 0 "--if-equal with --if-present" -- s put t c six --if-present --if-equal four
run 0 "--if-equal, the new value from standard input" -- s put t c --if-equal six <"$F/bin"
s get t c >"$F/got"
check "the value is standard input's" cmp -s "$F/bin" "$F/got"
run 0 "--hex --if-equal: OLD is hex too" -- s --hex put t 63 6f6b --if-equal 7800ff
run 0 "get" -- s get t c
out_is "--hex OLD matched the binary value" ok
run 0 "--if-equal '' matches an empty value" -- s put t empty filled --if-equal ''
run 1 "--if-equal '' does not match a full one" -- s put t empty again --if-equal ''
run 0 "--if-equal with --ttl" -- s put t c ttl --if-equal ok --ttl 60000
left=$(ttl_of c)
check "--ttl applies to a conditional put ($left ms)" between "$left" 1 60000
run 0 "--keep-ttl" -- s put t c kept --keep-ttl
left=$(ttl_of c)
check "--keep-ttl kept the expiry ($left ms)" between "$left" 1 60000
run 0 "--keep-ttl with --if-equal" -- s put t c kept2 --keep-ttl --if-equal kept
check "still kept" test "$(ttl_of c)" -gt 0
run 0 "a plain put" -- s put t c plain
check "a plain put drops the expiry" test "$(ttl_of c)" -eq 0
run 0 "--keep-ttl of a new key" -- s put t newk v --keep-ttl
check "a new key gets no expiry" test "$(ttl_of newk)" -eq 0
run 1 "add on a present key" -- s add t c x
err_has "add message" "already exists"

# ---- keys and scan, a shard at a time -----------------------------------------------
# 16,000 pairs of 4 KiB (64 MiB), through a dump (checksum 0: load --partial
# loads it and reports the mismatch)
npairs=16000
python3 - "$npairs" "$F/big.dump" "$F/big.keys" <<'EOF'
import struct, sys
n = int(sys.argv[1])
out = bytearray(b"SHMKVDMP" + struct.pack("<IIQ", 1, 0, n))
for i in range(n):
    k, v = b"big:%d" % i, (b"%08d" % i) * 512
    out += struct.pack("<II", len(k), len(v)) + k + v
out += struct.pack("<IIQQ", 0, 0, n, 0)
open(sys.argv[2], "wb").write(out)
open(sys.argv[3], "w").write("".join("big:%d\n" % i for i in range(n)))
EOF
run 3 "load 64 MiB of pairs" -- s load big --partial "$F/big.dump"
rm -f "$F/big.dump"
LC_ALL=C sort "$F/big.keys" >"$F/want"
s keys big | LC_ALL=C sort >"$F/got"
check "keys lists every key once" cmp -s "$F/want" "$F/got"
run 0 "keys --limit 10" -- s keys big --limit 10
check "prints 10 keys" test "$(wc -l <"$F/out")" -eq 10
check "10 different keys of the table" test "$(LC_ALL=C sort -u "$F/out" | LC_ALL=C comm -12 - "$F/want" | wc -l)" -eq 10
run 0 "keys --limit 0" -- s keys big --limit 0
check "prints nothing" test ! -s "$F/out"
run 0 "scan with a glob" -- s scan big 'big:1234'
out_is "one pair" "big:1234	$(printf '%08d' 1234 | awk '{ for (i = 0; i < 512; i++) printf "%s", $0 }')"
run 0 "scan --limit 3" -- s scan big --limit 3
check "3 pairs" test "$(wc -l <"$F/out")" -eq 3
# memory: the listing reads a shard at a time and a --limit stops it, so
# scan --limit 1 maps in a sliver of what a whole scan does
rss() { python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$tool" "$@"; }
full=$(rss scan big) one=$(rss scan big --limit 1)
check "a whole scan maps in the table's 64 MiB (max RSS $full KiB)" test "$full" -gt 60000
check "scan --limit 1 stops early (max RSS $one KiB, a whole scan $full)" test "$one" -lt $((full / 4))
s rm big

# keys while two processes write other keys: every key present throughout
# is listed exactly once, every time
s create live
seq 300 | sed 's/^/stay:/' >"$F/stay"
python3 - "$F/stay" "$F/stay.dump" <<'EOF'
import struct, sys
keys = open(sys.argv[1], "rb").read().split()
out = bytearray(b"SHMKVDMP" + struct.pack("<IIQ", 1, 0, len(keys)))
for k in keys:
    out += struct.pack("<II", len(k), 1) + k + b"v"
out += struct.pack("<IIQQ", 0, 0, len(keys), 0)
open(sys.argv[2], "wb").write(out)
EOF
s load live --partial "$F/stay.dump" 2>/dev/null
LC_ALL=C sort "$F/stay" >"$F/stay.sorted"
for w in 1 2; do
    (i=0; while [ ! -e "$F/stop" ]; do
        i=$((i + 1)); "$tool" put live "churn:$w:$i" v; "$tool" del live "churn:$w:$((i - 3))" 2>/dev/null
    done) &
done
bad=0
for _ in $(seq 10); do
    s keys live 'stay:*' | LC_ALL=C sort >"$F/listed"
    cmp -s "$F/listed" "$F/stay.sorted" || bad=$((bad + 1))
done
touch "$F/stop"
wait
check "10 listings during writes each list every stable key once ($bad did not)" test "$bad" -eq 0
check "the writers were writing" test "$(s keys live 'churn:*' | wc -l)" -gt 0
s rm live

# ---- several processes at once ---------------------------------------------------------
# 4 processes x $rounds increments of one counter: every result printed is
# distinct (each increment saw its own value) and they are exactly 1..total
for p in 1 2 3 4; do
    (for _ in $(seq "$rounds"); do "$tool" incr t ctr || echo FAIL; done >"$F/incr.$p") &
done
wait
total=$((4 * rounds))
cat "$F"/incr.* | sort -n >"$F/results"
check "no increment failed" test "$(grep -c FAIL "$F/results")" -eq 0
check "the $total results are 1..$total, each once" cmp -s "$F/results" <(seq "$total")
check "the counter is $total" test "$(s get t ctr)" = "$total"
# mixed signs and sizes from 4 processes: the total is exact
for p in 1 2 3 4; do
    (for _ in $(seq "$rounds"); do "$tool" incr t mixed -- "$((p % 2 ? 1000 : -7))" >/dev/null; done) &
done
wait
check "mixed increments sum exactly" test "$(s get t mixed)" = "$((2 * rounds * 1000 - 2 * rounds * 7))"

# a counter kept by compare-and-swap loops (get, then put --if-equal) from 4
# processes, $quarter increments each: none lost, none doubled
quarter=$((rounds / 4))
s put t cas 0
cas_loop() {
    local n=0 v
    while [ "$n" -lt "$1" ]; do
        v=$("$tool" get t cas)
        if "$tool" put t cas "$((v + 1))" --if-equal "$v" 2>/dev/null; then n=$((n + 1)); fi
    done
}
for p in 1 2 3 4; do cas_loop "$quarter" & done
wait
check "the CAS counter is exactly $((4 * quarter))" test "$(s get t cas)" = $((4 * quarter))

# appends of 4 processes: each one's tokens all there, none torn
for p in 1 2 3 4; do
    (for _ in $(seq "$quarter"); do "$tool" append t log "[$p]"; done) &
done
wait
s get t log >"$F/log"
check "every append landed ($(wc -c <"$F/log") bytes)" test "$(wc -c <"$F/log")" -eq $((4 * quarter * 3))
check "each process's appends are whole" test "$(grep -o '\[[1-4]\]' "$F/log" | sort | uniq -c | awk '{ print $1 }' | sort -u)" = "$quarter"

# 8 processes take one key at once, 5 times: exactly one gets it each time
for r in 1 2 3 4 5; do
    s put t "prize$r" "won$r"
    for p in 1 2 3 4 5 6 7 8; do
        ("$tool" take t "prize$r" >"$F/take.$p" 2>/dev/null; echo $? >"$F/rc.$p") &
    done
    wait
    check "round $r: one winner" test "$(cat "$F"/rc.* | grep -c '^0$')" -eq 1
    check "round $r: 7 told the key is gone" test "$(cat "$F"/rc.* | grep -c '^1$')" -eq 7
    check "round $r: the winner printed the value" test "$(cat "$F"/take.*)" = "won$r"
    rm -f "$F"/rc.* "$F"/take.*
done

s rm t
s rm small
check "every table removed" test -z "$(ls -A "$SHMKV_DIR")"
cli_end
