#!/usr/bin/env bash
# test_cli_list.sh - the shmkv tool's list commands as a user drives them:
# push (--max-len, --wait woken by a pop from another process), pop
# (--tail, --count, --wait woken by a push from another process),
# llen, lrange (Redis's indexes), lists in keys, scan and stats, the errors
# of each (a pair where a list is wanted and the reverse, a cache, bad
# arguments), and dump/load carrying lists (dump format version 2; a
# version 1 dump still loads; a damaged list record loads nothing).
# Runs from BUILD/test like test_cli.sh, sharing its checks
# (test/cli_harness.sh).  Prints "N passed, M failed".
set -u

here=$(cd "$(dirname "$0")" && pwd) src=$here
while [ "$src" != / ] && [ ! -f "$src/test/cli_harness.sh" ]; do src=$(dirname "$src"); done
# shellcheck source=test/cli_harness.sh
. "$src/test/cli_harness.sh" test_cli_list "$@" || exit 1
start=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

# ---- push, lrange, llen, pop ---------------------------------------------------
s create L
run 0 "push three" -- s push L q a b c
run 0 "push one at the head" -- s push L q x --head
run 0 "push two at the head: reversed" -- s push L q y z --head
run 0 "lrange all" -- s lrange L q
out_is "lrange all" "$(printf 'z\ny\nx\na\nb\nc')"
run 0 "llen" -- s llen L q
out_is "llen" "6"
run 0 "lrange 1 2" -- s lrange L q 1 2
out_is "lrange 1 2" "$(printf 'y\nx')"
run 0 "lrange -- -2 -1" -- s lrange L q -- -2 -1
out_is "lrange the last two" "$(printf 'b\nc')"
run 0 "lrange 4 (to the end)" -- s lrange L q 4
out_is "lrange 4" "$(printf 'b\nc')"
run 0 "lrange past the end" -- s lrange L q 2 100
out_is "lrange 2 100" "$(printf 'x\na\nb\nc')"
run 0 "lrange -- -100 0" -- s lrange L q -- -100 0
out_is "lrange -100 0" "z"
run 0 "lrange start after stop" -- s lrange L q 3 1
out_is "lrange 3 1" ""
run 0 "pop the head" -- s pop L q
out_is "pop" "z"
check "pop to a pipe: the exact bytes, no newline" test "$(s pop L q | od -An -c | tr -d ' ')" = "y"
run 0 "pop the tail" -- s pop L q --tail
out_is "pop --tail" "c"
run 0 "pop --count 2" -- s pop L q --count 2
out_is "pop --count 2" "$(printf 'x\na')"
run 0 "pop --count past the end: what there is" -- s pop L q -c 10
out_is "pop --count 10 of one" "b"
run 1 "pop of the emptied list" -- s pop L q
err_has "empty message" "is empty or absent"
run 0 "llen of the emptied list" -- s llen L q
out_is "an emptied list" "0"
run 1 "pop of an absent list" -- s pop L none
run 0 "llen of an absent list" -- s llen L none
out_is "absent llen" "0"
run 1 "lrange of an absent list" -- s lrange L none

# values from standard input, binary, empty, big
printf 'one\000two\n' >"$F/bin"
run 0 "push from standard input" -- sh -c "'$tool' push L bin <'$F/bin'"
run 0 "push - among values" -- sh -c "printf 'in' | '$tool' push L bin before - after"
run 2 "two - values" -- sh -c "'$tool' push L bin - - </dev/null"
err_has "two stdin" "only one VALUE may be -"
run 0 "push an empty value" -- s push L bin ""
run 0 "--hex lrange" -- s --hex lrange L 62696e
out_is "--hex lrange" "$(printf '6f6e650074776f0a\n6265666f7265\n696e\n6166746572\n')"
run 0 "--escape pop --count" -- s --escape pop L bin --count 4
out_is "escaped" "$(printf 'one\\x00two\\x0a\nbefore\nin\nafter\n')"
run 0 "pop of an empty element" -- s pop L bin
check "the empty element is empty" test ! -s "$F/out"
head -c 3000000 /dev/urandom >"$F/big"
run 0 "push a 3 MB element" -- sh -c "'$tool' push L big <'$F/big'"
run 0 "pop it" -- sh -c "'$tool' pop L big >'$F/big.out'"
check "the 3 MB element came back whole" cmp -s "$F/big" "$F/big.out"
run 0 "--hex push" -- s --hex push L 6878 00ff 41
run 0 "--hex pop" -- s --hex pop L 6878
out_is "--hex pop" "00ff"

# ---- waiting --------------------------------------------------------------------
t0=$(date +%s.%N)
run 1 "pop --wait 300 of an empty list" -- s pop L q --wait 300
w=$(elapsed "$t0")
check "waited about 300 ms (took $w s)" awk -v w="$w" 'BEGIN { exit !(w >= 0.29 && w < 10) }'
err_has "waited message" "waited for a push in vain"
(sleep 0.3; "$tool" push L q woken) &
t0=$(date +%s.%N)
run 0 "pop --wait 20000 woken by a push" -- s pop L q --wait 20000
w=$(elapsed "$t0")
wait
out_is "the pushed element" "woken"
check "woken well before the timeout (took $w s)" awk -v w="$w" 'BEGIN { exit !(w >= 0.25 && w < 10) }'
(sleep 0.2; "$tool" push L fresh made) &
run 0 "pop --wait -1 on an absent list, which a push makes" -- s pop L fresh --wait -1 --tail
wait
out_is "made" "made"
# a bounded push: no room at once, after a wait, then room made by a pop
s push L b 1 2
run 0 "push --max-len 3 with room" -- s push L b 3 --max-len 3
run 1 "push --max-len 3 of a full list" -- s push L b 4 --max-len 3
err_has "no room message" "has no room below --max-len 3"
run 1 "push --max-len 4 of two more" -- s push L b 4 5 --max-len 4
t0=$(date +%s.%N)
run 1 "push --max-len 3 --wait 300 of a full list" -- s push L b 4 --max-len 3 --wait 300
w=$(elapsed "$t0")
check "waited about 300 ms for room (took $w s)" awk -v w="$w" 'BEGIN { exit !(w >= 0.29 && w < 10) }'
err_has "waited for room message" "waited for a pop in vain"
(sleep 0.3; "$tool" pop L b >/dev/null) &
t0=$(date +%s.%N)
run 0 "push --max-len 3 --wait -1 woken by a pop" -- s push L b 4 --max-len 3 --wait -1
w=$(elapsed "$t0")
wait
check "woken by the pop (took $w s)" awk -v w="$w" 'BEGIN { exit !(w >= 0.25 && w < 10) }'
run 0 "the bounded list" -- s lrange L b
out_is "the bounded list" "$(printf '2\n3\n4')"
run 2 "more values than --max-len" -- s push L b x y --max-len 1
run 2 "--max-len 0" -- s push L b x --max-len 0
run 2 "--wait without --max-len" -- s push L b x --wait 10
run 2 "--max-len on pop" -- s pop L b --max-len 3
run 0 "the list is unchanged by the refusals" -- s llen L b
out_is "llen after refusals" "3"
run 2 "--wait abc" -- s pop L q --wait abc
run 2 "--wait -2" -- s pop L q --wait -2
run 2 "--head on pop" -- s pop L q --head
run 2 "--tail on push" -- s push L q v --tail
run 2 "--wait on lrange" -- s lrange L q --wait 5
run 2 "lrange with a bad index" -- s lrange L q 1x
run 2 "lrange with too many arguments" -- s lrange L q 0 1 2
run 2 "pop --count 0" -- s pop L q --count 0

# ---- the other kind, caches -------------------------------------------------------
s put L p pairvalue
s push L l elem
run 3 "push onto a pair" -- s push L p x
err_has "pair message" "holds a pair, not a list"
run 3 "pop of a pair" -- s pop L p
run 3 "llen of a pair" -- s llen L p
run 3 "lrange of a pair" -- s lrange L p
run 3 "get of a list" -- s get L l
err_has "list message" "holds a list, not a pair"
run 3 "put onto a list" -- s put L l v
run 3 "ttl of a list" -- s ttl L l
run 0 "the pair is unchanged" -- s get L p
out_is "pair" "pairvalue"
run 0 "the list is unchanged" -- s lrange L l
out_is "list" "elem"
s create C --cache --max-bytes 1M
run 3 "push into a cache" -- s push C q v
err_has "cache message" "caches hold no lists"
run 3 "pop from a cache" -- s pop C q

# ---- keys, scan, stats, del -------------------------------------------------------
s create K
s put K pair v
s push K list a "b c" ""
s push K empty x
s pop K empty >/dev/null
run 0 "keys shows lists" -- sh -c "'$tool' keys K | sort"
out_is "keys" "$(printf 'empty\nlist\npair')"
run 0 "scan" -- sh -c "'$tool' scan K | sort"
out_is "scan: a list as \\list:N and its elements" "$(printf 'empty\t\\list:0\nlist\t\\list:3\ta\tb c\t\npair\tv')"
run 0 "--hex scan of a list" -- s --hex scan K list
out_is "--hex scan" "$(printf '6c697374\t\\list:3\t61\t622063\t')"
run 0 "scan --limit 1" -- s scan K --limit 1
check "one line" test "$(wc -l <"$F/out")" -eq 1
run 0 "stats" -- s stats K
out_has "stats: lists" "lists            2 of the keys, holding 3 elements (4 B)"
run 0 "stats --json" -- s stats K --json
check "stats --json counts lists" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["keys"], d["lists"], d["list_elements"], d["list_bytes"]) == (3, 2, 3, 4), d
' "$F/out"
run 0 "del of a list" -- s del K list
run 0 "llen after del" -- s llen K list
out_is "deleted" "0"
run 1 "lrange after del" -- s lrange K list
run 0 "the key takes a pair now" -- s put K list now-a-pair
run 0 "check" -- s check K

# ---- dump and load -----------------------------------------------------------------
s create D
s put D pair value
s push D jobs a bc
s push D empty x
s pop D empty >/dev/null
s --hex push D 62696e 00 ff0a ""
python3 -c 'import sys; sys.stdout.buffer.write(b"".join(b"%d\n" % i for i in range(100000)))' |
    xargs -n 5000 "$tool" push D long
run 0 "llen of the long list" -- s llen D long
out_is "100000 elements" "100000"
run 0 "dump with lists" -- s dump D "$F/d.dump"
check "version 2, and the list record of the docs" python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
assert struct.unpack_from("<IIQ", d, 8) == (2, 0, 5), struct.unpack_from("<IIQ", d, 8)
rec = struct.pack("<II", 4 | 0x80000000, 11) + b"jobs" + struct.pack("<I", 1) + b"a" + struct.pack("<I", 2) + b"bc"
assert rec in d
' "$F/d.dump"
run 0 "load into a new table" -- s load D2 "$F/d.dump"
s --hex scan D | sort >"$F/scan1"
s --hex scan D2 | sort >"$F/scan2"
check "the copy has the same pairs and lists" cmp -s "$F/scan1" "$F/scan2"
run 0 "lrange of the copy keeps the order" -- s lrange D2 long -- -2 -1
out_is "the last two" "$(printf '99998\n99999')"
s create D3
s push D3 pair was-a-list
s put D3 jobs was-a-pair
s push D3 other stays
run 0 "load into a table holding the other kinds" -- s load D3 "$F/d.dump"
run 0 "the dump's pair replaced a list" -- s get D3 pair
out_is "pair" "value"
run 0 "the dump's list replaced a pair" -- s lrange D3 jobs
out_is "jobs" "$(printf 'a\nbc')"
run 0 "other keys stay" -- s lrange D3 other
run 0 "load --partial with lists" -- s load D4 "$F/d.dump" --partial
s --hex scan D4 | sort >"$F/scan4"
check "the --partial copy too" cmp -s "$F/scan1" "$F/scan4"
run 0 "dump | load" -- sh -c "'$tool' dump D | '$tool' load D5"
s --hex scan D5 | sort >"$F/scan5"
check "through a pipe too" cmp -s "$F/scan1" "$F/scan5"
run 3 "load of lists into a cache" -- s load C "$F/d.dump"
err_has "cache" "caches hold no lists"

# a version 1 dump (before lists) still loads; a list record is corrupt there
python3 - "$F" <<'EOF'
import struct, sys
def dump(version, records):
    out = b"SHMKVDMP" + struct.pack("<IIQ", version, 0, len(records))
    for klen, k, v in records:
        out += struct.pack("<II", klen, len(v)) + k + v
    out += struct.pack("<IIQ", 0, 0, len(records))
    h = 0xcbf29ce484222325
    for b in out:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return out + struct.pack("<Q", h)
d = sys.argv[1]
open(d + "/v1.dump", "wb").write(dump(1, [(3, b"old", b"pair")]))
lst = struct.pack("<I", 1) + b"a"
open(d + "/v1list.dump", "wb").write(dump(1, [(3 | 0x80000000, b"old", lst)]))
open(d + "/short.dump", "wb").write(dump(2, [(3, b"new", b"p"), (3 | 0x80000000, b"old", lst[:-1])]))
open(d + "/over.dump", "wb").write(dump(2, [(3 | 0x80000000, b"old", struct.pack("<I", 9) + b"a")]))
open(d + "/zero.dump", "wb").write(dump(2, [(0x80000000, b"", b"")]))
open(d + "/highbits.dump", "wb").write(dump(2, [(3 | 0x80010000, b"old", b"")]))
EOF
run 0 "load of a version 1 dump" -- s load V1 "$F/v1.dump"
run 0 "its pair" -- s get V1 old
out_is "v1 pair" "pair"
run 3 "a list record in a version 1 dump" -- s load V2 "$F/v1list.dump"
err_has "v1 list" "bad record header"
for bad in short over zero highbits; do
    run 3 "a damaged list record ($bad)" -- s load V3 "$F/$bad.dump"
done
run 1 "nothing of them loaded" -- s get V3 new
err_has "no table" "no table"

for n in L C K D D2 D3 D4 D5 V1; do s rm "$n"; done
check "every table removed" test -z "$(ls -A "$SHMKV_DIR")"
echo "test_cli_list: $(elapsed "$start") s"
cli_end
