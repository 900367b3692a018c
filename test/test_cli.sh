#!/usr/bin/env bash
# test_cli.sh - drive the shmkv command-line tool as a user would.
#
# Runs from BUILD/test (or BUILD/asan/test) and uses "$(dirname "$0")/../shmkv".
# Everything happens in a private directory under /dev/shm, exported as
# SHMKV_DIR and removed on exit.  Every subcommand and error path is run
# with its exit status checked; a dump -> load round trip of 1,000,000
# pairs (200,000 under ASan) is compared pair by pair.
# Prints "N passed, M failed" and exits non-zero if anything failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$here   # the source tree: the harness and the man page
while [ "$src" != / ] && [ ! -f "$src/test/cli_harness.sh" ]; do src=$(dirname "$src"); done
# shellcheck source=test/cli_harness.sh
. "$src/test/cli_harness.sh" test_cli "$@" || exit 1

npairs=1000000
case $here in
*/asan/*) npairs=200000; echo "ASan build: the round trip uses $npairs pairs instead of 1,000,000" ;;
esac

start=$(date +%s.%N)

# ---- help, version, usage --------------------------------------------------
run 0 "--version" -- s --version
out_has "--version" "shmkv 0."
run 0 "--help" -- s --help
out_has "--help" "usage: shmkv"
run 0 "help put" -- s help put
out_has "help put" "usage: shmkv put NAME KEY [VALUE]"
run 0 "put --help" -- s put --help
out_has "put --help" "usage: shmkv put"
run 2 "help of an unknown command" -- s help frobnicate
run 2 "no command" -- s
run 2 "unknown command" -- s frobnicate
err_has "unknown command" "unknown command 'frobnicate'"
run 2 "unknown option" -- s get t k --bogus
err_has "unknown option" "unknown option '--bogus'"
run 2 "option of another command" -- s put t k v --json
run 2 "missing arguments" -- s put t
run 2 "too many arguments" -- s get t k extra
run 2 "bad --max-bytes" -- s create t --max-bytes 12q
run 2 "--max-bytes below the minimum" -- s create t --max-bytes 1k
run 2 "bad --mode" -- s create t --mode 0999
run 2 "bad --limit" -- s keys t --limit lots
run 2 "bad --interval" -- s top t --interval 0
run 2 "bad hex" -- s --hex get t 0g
run 2 "odd hex" -- s --hex get t abc
run 2 "bad base64" -- s --base64 get t 'a*b'
run 2 "empty key" -- s get t ''
# a decoded key of the wrong length is refused, its buffer freed once
run 2 "empty --hex key" -- s --hex get t ''
err_has "empty --hex key" "a key must be 1 to 65535 bytes (this one is 0)"
run 2 "empty --base64 key to del" -- s --base64 del t '='
run 2 "a 65536-byte --base64 key" -- s --base64 put t "$(head -c 65536 /dev/zero | base64 -w0)" v
err_has "65536-byte key" "(this one is 65536)"
run 0 "bench --help runs shmkv-bench" -- s bench --help
out_has "bench --help" "shmkv-bench"
# the man page (in the source tree above this script) documents what help
# lists: the same commands with the same arguments, each command's options
# in its own entry, and the global options
check "help and the man page ($src/docs/shmkv.1) agree" python3 - "$tool" "$src/docs/shmkv.1" <<'EOF'
import re, subprocess, sys
tool, lines = sys.argv[1], open(sys.argv[2]).read().replace("\\-", "-").split("\n")
def shmkv(*a):
    return subprocess.run([tool, *a], capture_output=True, text=True, check=True).stdout
usage = shmkv("--help")
cmds = re.findall(r"^  shmkv (\S+)", usage, re.M)
# the COMMANDS entries: ".TP" then ".B NAME ARGUMENTS", not inside .RS/.RE
entry, depth = {}, 0
for i, l in enumerate(lines):
    depth += (l == ".RS") - (l == ".RE")
    if depth == 0 and i and lines[i - 1] == ".TP" and re.match(r"\.B [a-z]+( |$)", l):
        entry[l.split()[1]] = i
bad = [] if cmds == list(entry) else ["commands: help lists %s, the man page %s" % (cmds, list(entry))]
ends = sorted(set(entry.values()) | {i for i, l in enumerate(lines) if l.startswith(".SH")} | {len(lines)})
for c in cmds:
    if c not in entry:
        continue
    i = entry[c]
    text = "\n".join(lines[i:next(e for e in ends if e > i)])
    synopsis = shmkv("help", c).split("\n\n")[0].split("shmkv ", 1)[1]
    args = re.split(r" \[--", synopsis)[0].lower()
    head = re.sub(r"\\f[BIRP]", "", lines[i][3:])
    if head != args:
        bad.append("%s: help says '%s', the man page '%s'" % (c, args, head))
    bad += ["%s: %s is not in its man page entry" % (c, o) for o in re.findall(r"--[a-z-]+", synopsis)
            if o not in text]
# the SYNOPSIS: blocks of lines between .br; each command is in one block
# (".B shmkv NAME", or ".B NAME" after a "|"), with every argument and
# option of its help's synopsis
syn = lines[lines.index(".SH SYNOPSIS"):lines.index(".SH DESCRIPTION")]
blocks = [[]]
for l in syn:
    if l == ".br":
        blocks.append([])
    else:
        blocks[-1].append(l)
for c in cmds:
    mine = [b for b in blocks if any(re.fullmatch(r"\.B (shmkv )?%s" % c, l) for l in b)]
    if len(mine) != 1:
        bad.append("%s: in %d blocks of the man page's SYNOPSIS, not 1" % (c, len(mine)))
        continue
    text = "\n".join(mine[0])
    synopsis = shmkv("help", c).split("\n\n")[0].split("shmkv ", 1)[1]
    bad += ["%s: %s is not in the man page's SYNOPSIS" % (c, w) for w in
            re.findall(r"--[a-z-]+", synopsis) + [a.lower() for a in re.findall(r"\b[A-Z]+\b", synopsis)]
            if not re.search(r"(?<![a-z-])%s(?![a-z-])" % re.escape(w), text)]
glob = re.findall(r"--[a-z0-9-]+", usage.split("Global options")[1])
bad += ["global option %s is not in the man page" % o for o in glob if o not in "\n".join(lines)]
print("\n".join(bad))
sys.exit(bool(bad))
EOF

# ---- create, missing tables ------------------------------------------------
run 1 "get on a missing table" -- s get nope k
err_has "missing table message" "no table \"nope\" in $SHMKV_DIR (create it with: shmkv create nope)"
run 1 "put on a missing table" -- s put nope k v
run 1 "del on a missing table" -- s del nope k
run 1 "keys on a missing table" -- s keys nope
run 1 "stats on a missing table" -- s stats nope
run 1 "dump of a missing table" -- s dump nope "$F/nope.dump"
check "a failed dump leaves no file" test ! -e "$F/nope.dump"
run 1 "missing SHMKV_DIR" -- env SHMKV_DIR="$T/no-such-dir" "$tool" get t k
err_has "missing SHMKV_DIR" "does not exist"
run 0 "create" -- s create t --max-bytes 64M --expected-keys 1k --mode 640
check "create applies --mode" test "$(stat -c %a "$SHMKV_DIR/t")" = 640
run 3 "create of an existing table" -- s create t
err_has "create existing" "already exists"
run 0 "create with sizes spelled 1.5GiB" -- s create big --max-bytes 1.5GiB
run 0 "stats of big" -- s stats big --json
check "--max-bytes 1.5GiB" python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["max_bytes"] != 1610612736)' "$F/out"

# ---- put / add / replace / get / del ---------------------------------------
run 0 "put" -- s put t hello world
run 0 "get" -- s get t hello
out_is "get" world
check "get to a file writes no newline" test "$(s get t hello | wc -c)" -eq 5
run 1 "get absent" -- s get t nothere
err_has "get absent" "no key \"nothere\" in \"t\""
run 1 "add on existing" -- s add t hello again
err_has "add on existing" "already exists"
run 0 "get after the failed add" -- s get t hello
out_is "add changed nothing" world
run 0 "add new" -- s add t fresh one
run 1 "replace absent" -- s replace t ghost x
run 0 "replace present" -- s replace t fresh two
run 0 "get replaced" -- s get t fresh
out_is "replace" two
run 0 "del" -- s del t fresh
run 1 "del absent" -- s del t fresh
run 1 "get deleted" -- s get t fresh
run 0 "put a value starting with - after --" -- s put t -- -dash -1
run 0 "get it" -- s get t -- -dash
out_is "dash value" -1
run 0 "empty value" -- s put t empty ''
check "empty value reads back empty" test "$(s get t empty | wc -c)" -eq 0

# binary: stdin values, --hex, --base64, NUL and 0xff
printf 'a\000b\377c' >"$F/bin"
run 0 "put from stdin" -- s put t bin <"$F/bin"
s get t bin >"$F/bin.out"
check "binary value from stdin round trips" cmp -s "$F/bin" "$F/bin.out"
run 0 "put with - reads stdin" -- s put t bin2 - <"$F/bin"
s get t bin2 >"$F/bin.out"
check "put - round trips" cmp -s "$F/bin" "$F/bin.out"
head -c 3000000 /dev/urandom >"$F/big"
run 0 "put a 3 MB value from stdin" -- s put t bigval <"$F/big"
s get t bigval >"$F/big.out"
check "3 MB value round trips" cmp -s "$F/big" "$F/big.out"
run 0 "--hex put of a key and value with NUL and 0xff" -- s --hex put t 00ff00 ff0000ff
run 0 "--hex get" -- s --hex get t 00ff00
out_is "--hex get" ff0000ff
run 0 "--hex as a trailing option" -- s get t 00ff00 --hex
out_is "--hex trailing" ff0000ff
run 0 "--hex --raw: hex key, raw value out" -- s --hex --raw get t 00ff00
printf '\377\000\000\377' >"$F/hexval"
check "--raw prints the value's bytes" cmp -s "$F/out" "$F/hexval"
run 0 "--base64 put" -- s --base64 put t AP8A/w== 'AAEC/w=='
run 0 "--base64 get" -- s --base64 get t AP8A/w==
out_is "--base64 get" 'AAEC/w=='
run 0 "--hex get of the base64-put pair" -- s --hex get t 00ff00ff
out_is "base64 -> hex" 000102ff
run 0 "--base64 without padding" -- s --base64 get t AP8A/w
run 0 "keys --hex lists the binary keys" -- s --hex keys t
out_has "keys --hex" 00ff00
out_has "keys --hex" 00ff00ff
run 0 "scan --hex" -- s --hex scan t
out_has "scan --hex" "$(printf '00ff00\tff0000ff')"
run 0 "keys --escape" -- s --escape keys t
out_has "keys --escape shows \\x00" '\x00\xff\x00'
run 0 "get --escape" -- s --escape get t bin
out_is "get --escape" 'a\x00b\xffc'
# keys with NUL bytes are globbed on their escaped form
run 0 "glob on a key with NUL" -- s --hex keys t '\\x00\\xff*'
sort "$F/out" -o "$F/out"
out_is "glob on escaped form (sorted)" "$(printf '00ff00\n00ff00ff')"

# globs and --limit
for i in 1 2 3 4 5; do s put t "user:$i" "v$i"; done
s put t admin:1 root
run 0 "keys with a glob" -- s keys t 'user:*'
check "keys user:* gives 5" test "$(wc -l <"$F/out")" -eq 5
run 0 "keys --limit" -- s keys t 'user:*' --limit 2
check "--limit 2 gives 2" test "$(wc -l <"$F/out")" -eq 2
run 0 "keys -n 0" -- s keys t -n 0
check "-n 0 gives nothing" test ! -s "$F/out"
run 0 "scan with a glob" -- s scan t 'admin:*'
out_is "scan admin:*" "$(printf 'admin:1\troot')"
run 0 "glob with a class" -- s keys t 'user:[24]'
check "user:[24] gives 2" test "$(wc -l <"$F/out")" -eq 2
run 0 "glob matching nothing" -- s keys t 'zzz*'
check "no match, no output" test ! -s "$F/out"

# ---- not a table, links, permissions ----------------------------------------
head -c 100000 /dev/urandom >"$SHMKV_DIR/junk"
printf 'x' >"$SHMKV_DIR/tiny"
run 3 "get on a file that is not a table" -- s get junk k
err_has "not a table" "\"junk\" is not a shmkv table or is damaged (run: shmkv check junk)"
run 3 "put on a tiny file" -- s put tiny k v
run 3 "check on a file that is not a table" -- s check junk
run 3 "rm of a non-table without --force" -- s rm junk
check "junk stays" test -e "$SHMKV_DIR/junk"
ln -s "$SHMKV_DIR/t" "$SHMKV_DIR/link"
run 3 "symbolic link refused" -- s get link hello
err_has "symlink" "symbolic link"
rm -f "$SHMKV_DIR/link"
mkdir "$SHMKV_DIR/adir"
run 3 "a directory" -- s get adir k
rmdir "$SHMKV_DIR/adir"
run 0 "a table by path" -- s get "$SHMKV_DIR/t" hello
out_is "path name" world
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$T" "$SHMKV_DIR"
    run 3 "permission denied" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" get t hello
    err_has "permission denied names the path" "permission denied: cannot open $SHMKV_DIR/t"
    chmod 644 "$SHMKV_DIR/t"
    run 0 "a reader without write permission can ask ttl" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" ttl t hello
    out_is "ttl read-only" 0
    run 3 "clear without write permission" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" clear t
    err_has "clear: permission denied for writing" "permission denied: cannot open $SHMKV_DIR/t for writing"
    run 3 "expire without write permission" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" expire t hello 1000
    run 0 "the table is unchanged" -- s get t hello
    out_is "clear refused changed nothing" world
    chmod 640 "$SHMKV_DIR/t"
    chmod 700 "$T"
fi

# ---- ls, stats, check --------------------------------------------------------
run 0 "ls" -- s ls
out_has "ls header" "NAME"
check "ls shows t with its key count" grep -Eq "^t +$(nkeys t) " "$F/out"
check "ls shows big with 0 keys" grep -Eq '^big +0 ' "$F/out"
check "ls skips junk" sh -c "! grep -q junk '$F/out'"
check "ls shows the mode" grep -Eq '^t .* 0640 ' "$F/out"
run 0 "ls DIR --json" -- s ls "$SHMKV_DIR" --json
check "ls --json parses, with the counts" python3 -c '
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))}
assert set(rows) == {"t", "big"}, rows
assert rows["big"]["keys"] == 0 and rows["t"]["keys"] == int(sys.argv[2]), rows
assert rows["t"]["mode"] == "0640" and rows["t"]["max_bytes"] == 64 << 20
' "$F/out" "$(nkeys t)"
run 1 "ls of a missing directory" -- s ls "$T/none"
mkdir "$T/empty"
run 0 "ls of an empty directory" -- s ls "$T/empty"
check "prints nothing" test ! -s "$F/out"
run 0 "ls --json of an empty directory" -- s ls "$T/empty" --json
out_is "empty JSON array" "[]"
rmdir "$T/empty"
run 0 "stats" -- s stats t
out_has "stats units" "MiB"
out_has "stats percent" "%"
out_has "stats reads note" "not counted (lock-free readers write nothing; create with --stats to count)"
run 0 "stats --json" -- s stats t --json
check "stats --json parses with every field" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for f in ("keys live_bytes used_bytes max_bytes file_bytes shards buckets overflow_buckets index_bytes "
          "log_bytes garbage_bytes free_bytes puts dels splits runs_cleaned lock_waits lock_recoveries").split():
    assert isinstance(d[f], int), f
assert d["table"] == "t" and d["max_bytes"] == 64 << 20 and d["keys"] > 10 and d["dels"] >= 1
assert isinstance(d["load_factor"], float)
' "$F/out"
run 0 "check a sound table" -- s check t
out_has "check says sound" "is sound"

# ---- top ------------------------------------------------------------------------
( for i in $(seq 1 15); do "$tool" put t "topkey$i" v; done ) &
writer=$!
run 0 "top --once" -- s top t --once --interval 1
wait $writer
check "top --once fields are there and numeric" python3 -c '
import sys
d = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines())
for f in ("keys live_bytes file_bytes used_bytes max_bytes lock_recoveries").split():
    int(d[f])
for f in ("interval_s load_factor puts_per_s dels_per_s splits_per_s runs_cleaned_per_s "
          "lock_waits_per_s lock_recoveries_per_s").split():
    float(d[f])
assert d["table"] == "t" and 0.9 < float(d["interval_s"]) < 3
assert float(d["puts_per_s"]) > 0, "no puts seen during top"
assert "not counted" in d["reads"]
' "$F/out"
check "top --once prints no ANSI codes" sh -c "! grep -q \$(printf '\\033') '$F/out'"
run 0 "top --once --json" -- s top t --once --json -i 0.2
check "top --json parses" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["keys"] > 0 and d["puts_per_s"] >= 0 and d["interval_s"] > 0.1
' "$F/out"
run 0 "create --stats" -- s create counted --stats
s put counted k v
run 0 "top --once on a table that counts reads" -- s top counted --once -i 0.1
check "top shows read counting and a hit ratio" python3 -c '
import sys
d = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines())
assert d["reads"] == "counted" and int(d["read_stats"]) == 1
float(d["hit_ratio"]); float(d["hits_per_s"]); float(d["misses_per_s"])
' "$F/out"
check "stats --json has the read counters" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["read_stats"] == 1 and d["hits"] >= 0 and d["misses"] >= 0
' "$tool" stats counted --json
run 0 "rm counted" -- s rm counted
run 0 "top --count 2 to a pipe" -- s top t --count 2 -i 0.1
check "two frames" test "$(grep -c '^keys: ' "$F/out")" -eq 2

# ---- cache mode, expiry, clear -------------------------------------------------
run 0 "help lists ttl, expire, clear" -- s --help
out_has "help ttl" "shmkv ttl NAME KEY"
out_has "help expire" "shmkv expire NAME KEY MS"
out_has "help clear" "shmkv clear NAME"
run 2 "create --cache without --max-bytes" -- s create cache --cache
err_has "--cache needs --max-bytes" "--cache needs --max-bytes"
run 1 "the refused create made nothing" -- s stats cache
run 2 "--cache on a command that does not take it" -- s put t k v --cache
err_has "--cache elsewhere" "option --cache does not apply to this command"
run 0 "create --cache" -- s create cache --cache --max-bytes 256k
run 0 "stats --json of a cache" -- s stats cache --json
check "a cache counts reads and says so" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["cache"] == 1 and d["read_stats"] == 1 and d["reads_counted"] is True, d
assert d["evictions"] == 0 and d["expirations"] == 0 and d["hit_ratio"] == 0, d
' "$F/out"
run 0 "stats of a cache" -- s stats cache
out_has "stats says cache" "cache            yes (when full, writes evict): 0 evictions"
out_has "stats shows expirations" "expiry           0 expired pairs reclaimed"
run 0 "stats of a table that is not a cache" -- s stats t
out_has "stats says not a cache" "cache            no (when full, writes fail"
check "stats --json of a plain table: cache 0" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["cache"] == 0 and d["evictions"] == 0 and d["reads_counted"] is False, d
' "$tool" stats t --json
# 120 values of 4000 bytes (480 kB) into a 256 KiB cache: every put succeeds
head -c 4000 /dev/urandom >"$F/v4k"
fills=0
for i in $(seq 1 120); do
    "$tool" put cache "fill$i" <"$F/v4k" 2>>"$F/fill.err" && fills=$((fills + 1))
done
check "a full cache evicts instead of failing ($fills of 120 puts)" test "$fills" -eq 120
check "the cache holds fewer pairs than were put" test "$(nkeys cache)" -lt 120
run 0 "the newest pair is there" -- s get cache fill120
check "with its value" cmp -s "$F/out" "$F/v4k"
check "stats --json counts evictions, with a hit ratio" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["evictions"] > 0 and d["keys"] + d["evictions"] >= 120, d
assert 0 <= d["hit_ratio"] <= 1, d
' "$tool" stats cache --json
head -c 40000 /dev/zero >"$F/v40k"
run 3 "a pair over an eighth of a cache is refused (stdin)" -- s put cache huge - <"$F/v40k"
err_has "refusal names the eighth" "at most an eighth of its 256 KiB limit"
run 0 "top --once on a cache" -- s top cache --once -i 0.1
check "top shows cache, evictions and expirations" python3 -c '
import sys
d = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines())
assert int(d["cache"]) == 1 and int(d["evictions"]) > 0 and int(d["expirations"]) >= 0, d
float(d["evictions_per_s"]); float(d["expirations_per_s"]); float(d["hit_ratio"])
assert d["reads"] == "counted"
' "$F/out"
run 0 "top --once --json on a plain table" -- s top t --once --json -i 0.1
check "top --json has cache 0" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["cache"] == 0 and d["evictions"] == 0 and d["expirations_per_s"] >= 0, d
' "$F/out"

# ttl, put --ttl, expire
run 0 "put --ttl" -- s put t ephemeral soon --ttl 60000
run 0 "ttl" -- s ttl t ephemeral
check "ttl prints the milliseconds left ($(cat "$F/out"))" grep -Eqx '(59[0-9]{3}|60000)' "$F/out"
run 0 "get of a pair with a ttl" -- s get t ephemeral
out_is "value with a ttl" soon
run 0 "ttl of a pair without expiry" -- s ttl t hello
out_is "no expiry prints 0" 0
run 1 "ttl of a missing key" -- s ttl t nothere
err_has "ttl of a missing key" "no key \"nothere\" in \"t\""
check "ttl of a missing key prints nothing" test ! -s "$F/out"
run 1 "ttl on a missing table" -- s ttl nope k
run 2 "ttl of an empty key" -- s ttl t ''
run 2 "ttl with a missing key argument" -- s ttl t
run 0 "--hex ttl" -- s --hex ttl t 00ff00
out_is "--hex ttl" 0
run 0 "put without --ttl clears the expiry" -- s put t ephemeral again
run 0 "ttl after a plain put" -- s ttl t ephemeral
out_is "plain put: no expiry" 0
run 0 "expire" -- s expire t ephemeral 30000
run 0 "ttl after expire" -- s ttl t ephemeral
check "expire set the lifetime ($(cat "$F/out"))" grep -Eqx '(29[0-9]{3}|30000)' "$F/out"
run 0 "expire keeps the value" -- s get t ephemeral
out_is "value kept" again
run 0 "expire 0 removes the expiry" -- s expire t ephemeral 0
run 0 "ttl after expire 0" -- s ttl t ephemeral
out_is "expire 0: no expiry" 0
run 1 "expire of a missing key" -- s expire t nothere 1000
err_has "expire of a missing key" "no key \"nothere\" in \"t\""
run 1 "expire on a missing table" -- s expire nope k 1000
run 2 "expire with a bad lifetime" -- s expire t ephemeral soon
err_has "bad MS" "MS 'soon': give milliseconds"
run 2 "expire with a fraction" -- s expire t ephemeral 1.5
run 2 "expire with a negative lifetime" -- s expire t ephemeral -- -1
run 2 "expire beyond 100 years" -- s expire t ephemeral 99999999999999999
run 2 "expire without MS" -- s expire t ephemeral
run 2 "put --ttl with a bad lifetime" -- s put t k v --ttl 10s
err_has "bad --ttl" "--ttl '10s': give milliseconds"
run 2 "put --ttl without a value" -- s put t k v --ttl
run 2 "--ttl does not apply to add" -- s add t k v --ttl 1000
err_has "--ttl on add" "option --ttl does not apply to this command"
run 0 "put --ttl 0: never expires" -- s put t forever v --ttl 0
run 0 "ttl of it" -- s ttl t forever
out_is "--ttl 0" 0
run 0 "put --ttl into the cache" -- s put cache short v --ttl 200
run 0 "put --ttl, value from stdin" -- s put t short --ttl 200 - <"$F/v4k"
run 0 "get before it expires" -- s get t short
check "stdin value with a ttl" cmp -s "$F/out" "$F/v4k"
sleep 0.3
run 1 "get after the ttl passed" -- s get t short
run 1 "ttl after the ttl passed" -- s ttl t short
run 1 "expire after the ttl passed" -- s expire t short 1000
run 0 "keys skips expired pairs" -- s keys t 'short'
check "no expired key listed" test ! -s "$F/out"
run 1 "get from the cache after the ttl passed" -- s get cache short
run 1 "del meets the expired pair" -- s del cache short
check "stats --json counts the expiration" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["expirations"] >= 1, d
' "$tool" stats cache --json

# clear
run 0 "clear" -- s clear cache
check "clear empties the table" test "$(nkeys cache)" -eq 0
check "clear keeps the counters" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["keys"] == 0 and d["live_bytes"] == 0 and d["puts"] >= 120 and d["evictions"] > 0, d
' "$tool" stats cache --json
run 1 "get after clear" -- s get cache fill120
run 0 "put after clear" -- s put cache again v
run 0 "get after clear and put" -- s get cache again
out_is "table usable after clear" v
run 0 "clear of an empty table" -- s create empty0
run 0 "clear it" -- s clear empty0
run 0 "check after clear" -- s check empty0
run 1 "clear of a missing table" -- s clear nope
err_has "clear of a missing table" "no table \"nope\""
run 2 "clear with too many arguments" -- s clear cache extra
run 2 "clear without a table" -- s clear
run 2 "clear --json" -- s clear cache --json
run 3 "clear of a file that is not a table" -- sh -c "head -c 100000 /dev/urandom >'$SHMKV_DIR/junk2'; '$tool' clear junk2"
rm -f "$SHMKV_DIR/junk2"
run 0 "check the cache" -- s check cache
s rm cache
s rm empty0

# ---- dump / load: small cases ---------------------------------------------------------
run 0 "create one" -- s create one
s put one hello world
run 0 "dump one" -- s dump one "$F/one.dump"
check "dump is 66 bytes" test "$(stat -c %s "$F/one.dump")" -eq 66
check "dump header and checksum follow docs/dump-format.md" python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"SHMKVDMP" and struct.unpack_from("<IIQ", d, 8) == (2, 0, 1)
assert struct.unpack_from("<II", d, 24) == (5, 5) and d[32:42] == b"helloworld"
assert struct.unpack_from("<IIQ", d, 42) == (0, 0, 1)
h = 0xcbf29ce484222325
for b in d[:-8]:
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
assert struct.unpack_from("<Q", d, 58)[0] == h
' "$F/one.dump"
run 0 "dump to stdout equals dump to a file" -- s dump one
check "same bytes" cmp -s "$F/out" "$F/one.dump"
run 0 "load a small dump into a new table" -- s load one2 "$F/one.dump"
run 0 "get from the loaded table" -- s get one2 hello
out_is "loaded value" world
run 0 "loaded pairs never expire" -- s ttl one2 hello
out_is "load: no expiry" 0
run 0 "load --ttl into a new table" -- s load one3 "$F/one.dump" --ttl 60000
run 0 "ttl of a pair load --ttl put" -- s ttl one3 hello
check "load --ttl into a new table ($(cat "$F/out"))" grep -Eqx '(59[0-9]{3}|60000)' "$F/out"
run 0 "load --ttl into an existing table" -- s load one2 "$F/one.dump" --ttl 30000
run 0 "ttl after load --ttl into an existing table" -- s ttl one2 hello
check "load --ttl into an existing table ($(cat "$F/out"))" grep -Eqx '(29[0-9]{3}|30000)' "$F/out"
run 0 "load --partial --ttl" -- s load one3 --partial --ttl 0 "$F/one.dump"
run 0 "ttl after load --ttl 0" -- s ttl one3 hello
out_is "load --ttl 0" 0
run 2 "load with a bad --ttl" -- s load one3 "$F/one.dump" --ttl x
run 2 "load --cache without --max-bytes" -- s load one4 "$F/one.dump" --cache
run 0 "load --cache into a new table" -- s load one4 "$F/one.dump" --cache --max-bytes 1M
check "load --cache made a cache" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["cache"] == 1 and d["keys"] == 1 and d["max_bytes"] == 1 << 20, d
' "$tool" stats one4 --json
run 0 "load --stats into a new table" -- s load one5 "$F/one.dump" --stats
check "load --stats made a table that counts reads" python3 -c '
import json, subprocess, sys
d = json.loads(subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout)
assert d["read_stats"] == 1 and d["cache"] == 0 and d["keys"] == 1, d
' "$tool" stats one5 --json
s rm one3; s rm one4; s rm one5
# a dump is no more readable than its table: its file gets the table's own
# permission bits whatever the umask, and a link planted at its temporary
# name (FILE.tmp-PID) is refused, never followed
run 0 "create a private table" -- s create private --mode 600
s put private secret s3cret
run 0 "dump a 0600 table under umask 022" -- sh -c "umask 022; exec '$tool' dump private '$F/private.dump'"
check "the dump of a 0600 table is 0600 ($(stat -c %a "$F/private.dump"))" test "$(stat -c %a "$F/private.dump")" = 600
run 0 "dump a 0640 table under umask 077" -- sh -c "umask 077; exec '$tool' dump t '$F/t640.dump'"
check "the dump of a 0640 table is 0640 ($(stat -c %a "$F/t640.dump"))" test "$(stat -c %a "$F/t640.dump")" = 640
run 0 "a dump over an older, more open dump file" -- sh -c "umask 022; touch '$F/private.dump'; chmod 666 '$F/private.dump'; exec '$tool' dump private '$F/private.dump'"
check "replacing a 0666 file gives 0600 ($(stat -c %a "$F/private.dump"))" test "$(stat -c %a "$F/private.dump")" = 600
printf precious >"$F/victim"
cp "$F/victim" "$F/victim.orig"
# sh's $$ is the pid the exec'd tool keeps, so the link sits at its temporary name
run 3 "dump refuses a link planted at its temporary name" -- \
    sh -c "echo \$\$ >'$F/pid'; ln -s '$F/victim' '$F/planted.dump.tmp-'\$\$; exec '$tool' dump private '$F/planted.dump'"
err_has "planted link: the message names the temporary file" "$F/planted.dump.tmp-$(cat "$F/pid")"
err_has "planted link: the message says why" "already exists"
check "the link's target is untouched" cmp -s "$F/victim" "$F/victim.orig"
check "no dump was made through the link" test ! -e "$F/planted.dump"
check "the planted link is left where it was" test -L "$F/planted.dump.tmp-$(cat "$F/pid")"
rm -f "$F/planted.dump.tmp-$(cat "$F/pid")"
run 3 "dump refuses a dangling link planted at its temporary name" -- \
    sh -c "echo \$\$ >'$F/pid'; ln -s '$F/made-by-link' '$F/planted.dump.tmp-'\$\$; exec '$tool' dump private '$F/planted.dump'"
check "no file was created through the dangling link" test ! -e "$F/made-by-link"
rm -f "$F/planted.dump.tmp-$(cat "$F/pid")" "$F/victim" "$F/victim.orig" "$F/pid" "$F/t640.dump"
run 0 "the private dump loads" -- s load private2 "$F/private.dump"
run 0 "with its pair" -- s get private2 secret
out_is "private round trip" s3cret
s rm private; s rm private2

# load sizes the new index from the dump's count hint only as far as the
# data can justify: a one-pair dump claiming 100 M pairs used to make a
# 2 GB table, failing wherever files cannot grow that far
python3 -c '
import struct, sys
d = b"SHMKVDMP" + struct.pack("<IIQ", 1, 0, 100000000) + struct.pack("<II", 1, 1) + b"kv"
d += struct.pack("<IIQ", 0, 0, 1)
h = 0xcbf29ce484222325
for b in d:
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
open(sys.argv[1], "wb").write(d + struct.pack("<Q", h))
' "$F/hint.dump"
# limited CMD...: CMD with files limited to 64 MiB (ulimit -f counts KiB in
# bash) and SIGXFSZ ignored, so growing further fails with EFBIG instead of
# killing it; the input through a pipe (<(...)) leaves the size unknown
limited() { bash -c 'ulimit -f 65536; trap "" XFSZ; exec "$@"' limited "$@"; }
run 0 "load a one-pair dump claiming 100 M pairs from a pipe (files limited to 64 MiB)" -- \
    limited "$tool" load hint1 < <(cat "$F/hint.dump")
run 0 "load it from a file (files limited to 64 MiB)" -- limited "$tool" load hint2 "$F/hint.dump"
s create hint3
run 0 "load it from a pipe into an existing table (its temporary table limited to 64 MiB)" -- \
    limited "$tool" load hint3 < <(cat "$F/hint.dump")
run 0 "load it from a pipe into a new table with --max-bytes 1M" -- \
    "$tool" load hint4 --max-bytes 1M < <(cat "$F/hint.dump")
s create plain
check "the hinted tables are small and hold the pair, the piped one presized" python3 -c '
import json, subprocess, sys
st = {n: json.loads(subprocess.run([sys.argv[1], "stats", n, "--json"], capture_output=True, check=True).stdout)
      for n in ("hint1", "hint2", "hint3", "hint4", "plain")}
for n in ("hint1", "hint2", "hint3", "hint4"):
    assert st[n]["keys"] == 1 and st[n]["file_bytes"] <= 64 << 20, (n, st[n])
assert st["hint4"]["file_bytes"] <= 1 << 20, st["hint4"]
# the hint still counts where it may: a pipe gives a bigger start than none,
# a 66-byte file (room for 2 pairs) none
assert st["hint1"]["buckets"] > st["plain"]["buckets"], (st["hint1"], st["plain"])
assert st["hint2"]["buckets"] == st["plain"]["buckets"], (st["hint2"], st["plain"])
' "$tool"
for n in hint1 hint2 hint3 hint4 plain; do s rm "$n"; done

run 1 "load from a missing file" -- s load x "$F/none.dump"
printf 'not a dump at all, really not' >"$F/bad.dump"
run 3 "load of a non-dump" -- s load x "$F/bad.dump"
err_has "non-dump" "is not a shmkv dump"
run 1 "the failed load created nothing" -- s get x k
python3 -c '
import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[8] = 3; open(sys.argv[2], "wb").write(d)
' "$F/one.dump" "$F/v3.dump"
run 3 "load of a newer format version" -- s load x "$F/v3.dump"
err_has "version message" "format version 3"
python3 -c '
import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[38] ^= 1; open(sys.argv[2], "wb").write(d)
' "$F/one.dump" "$F/flip.dump"
run 3 "a flipped bit in a value is caught by the checksum" -- s load x "$F/flip.dump"
err_has "checksum" "checksum mismatch"
run 1 "nothing loaded" -- s get x hello
cat "$F/one.dump" - <<<"trailing" >"$F/trail.dump"
run 3 "trailing data refused" -- s load x "$F/trail.dump"
err_has "trailing" "trailing data"
run 3 "--partial on a checksum mismatch loads and warns" -- s load x --partial "$F/flip.dump"
err_has "partial checksum warning" "some may be damaged"
run 0 "load into an existing table through a pipe" -- sh -c "'$tool' dump t | '$tool' load one"
run 0 "loaded pairs are there" -- s get one user:3
out_is "merged load" v3
run 0 "the table's own pairs stay" -- s get one hello
out_is "existing pair kept" world
run 0 "load with --max-bytes notes it is ignored for an existing table" -- s load one "$F/one.dump" --max-bytes 1M
err_has "note" "apply only to a table load creates"
# the temporary table of a load killed with SIGKILL is swept by the next load
s create stale
dead=$(cat /proc/sys/kernel/pid_max)   # pids are below pid_max: nobody has this one
mv "$SHMKV_DIR/stale" "$SHMKV_DIR/.x.shmkv-load.$dead"
cp -p "$SHMKV_DIR/.x.shmkv-load.$dead" "$SHMKV_DIR/.y.shmkv-load.$dead"
touch -d '2 minutes ago' "$SHMKV_DIR/.x.shmkv-load.$dead"
run 0 "a load" -- s load one "$F/one.dump"
check "a dead load's old temporary table is swept" test ! -e "$SHMKV_DIR/.x.shmkv-load.$dead"
check "a recent one is kept" test -e "$SHMKV_DIR/.y.shmkv-load.$dead"
rm -f "$SHMKV_DIR/.y.shmkv-load.$dead"
run 0 "ls --all shows no temporary tables left" -- s ls --all
check "no .shmkv-load tables" sh -c "! grep -q shmkv-load '$F/out'"

# ---- dump / load: the big round trip ---------------------------------------------
echo "round trip of $npairs pairs"
# The generator writes the checksum as 0 (FNV-1a over ~30 MB is slow in
# Python): load --partial loads every record and then reports the mismatch,
# which is also what this checks.
python3 - "$npairs" "$F/gen.dump" "$F/expected" <<'EOF'
import struct, sys
n, out = int(sys.argv[1]), bytearray()
out += b"SHMKVDMP" + struct.pack("<IIQ", 1, 0, n)
lines = []
for i in range(n):
    if i % 1000 == 7:
        k = b"bin\x00\xff" + i.to_bytes(4, "little")      # binary keys
    else:
        k = b"key:%d" % i
    if i % 5000 == 3:
        v = bytes(range(256)) * 40                          # 10 KiB values
    elif i % 97 == 0:
        v = b""                                             # empty values
    else:
        v = b"value-%d-" % (i * 7) + bytes([i & 255, 0, 255])
    out += struct.pack("<II", len(k), len(v)) + k + v
    lines.append(k.hex() + "\t" + v.hex())
out += struct.pack("<IIQQ", 0, 0, n, 0)
open(sys.argv[2], "wb").write(out)
lines.sort()
open(sys.argv[3], "w").write("\n".join(lines) + "\n")
EOF
run 3 "seed table A with load --partial (bad checksum)" -- s load A --partial "$F/gen.dump"
err_has "seed: checksum reported" "checksum mismatch"
check "A holds every pair" test "$(nkeys A)" -eq "$npairs"
LC_ALL=C s --hex scan A | LC_ALL=C sort >"$F/A.txt"
check "A holds exactly the generated pairs" cmp -s "$F/A.txt" "$F/expected"
t0=$(date +%s.%N)
run 0 "dump A" -- s dump A "$F/a.dump"
check "dump prints nothing when stderr is not a terminal" test ! -s "$F/err"
run 0 "load B from the dump" -- s load B "$F/a.dump"
check "load prints nothing when stderr is not a terminal" test ! -s "$F/err"
run 0 "dump A | load C (pipe)" -- sh -c "'$tool' dump A | '$tool' load C"
t1=$(date +%s.%N)
echo "dump + load + dump|load of $npairs pairs: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
check "B has every pair" test "$(nkeys B)" -eq "$npairs"
LC_ALL=C s --hex scan B | LC_ALL=C sort >"$F/B.txt"
check "B equals A pair by pair" cmp -s "$F/A.txt" "$F/B.txt"
s dump B "$F/b.dump"
check "dumps of A and B are the same size" test "$(stat -c %s "$F/a.dump")" -eq "$(stat -c %s "$F/b.dump")"
LC_ALL=C s --hex scan C | LC_ALL=C sort >"$F/C.txt"
check "C equals A pair by pair" cmp -s "$F/A.txt" "$F/C.txt"
s rm C

# truncated and corrupt dumps load nothing
size=$(stat -c %s "$F/a.dump")
head -c $((size / 2)) "$F/a.dump" >"$F/trunc.dump"
run 3 "truncated dump into a new table" -- s load T1 "$F/trunc.dump"
err_has "truncated message" "truncated"
err_has "nothing loaded message" "nothing was loaded"
run 1 "no table was created" -- s stats T1
s create T2
run 3 "truncated dump from a pipe into an existing table" -- sh -c "'$tool' load T2 < '$F/trunc.dump'"
check "T2 still has 0 keys" test "$(nkeys T2)" -eq 0
head -c $((size - 5)) "$F/a.dump" >"$F/trunc2.dump"
run 3 "dump cut inside the end marker" -- s load T2 "$F/trunc2.dump"
check "T2 still has 0 keys" test "$(nkeys T2)" -eq 0
run 3 "--partial loads the valid prefix" -- s load T2 --partial "$F/trunc.dump"
err_has "--partial reports where it stopped" "before byte"
k2=$(nkeys T2)
check "the prefix is most of the first half ($k2 keys)" test "$k2" -gt $((npairs / 3)) -a "$k2" -lt "$npairs"
LC_ALL=C s --hex scan T2 | LC_ALL=C sort >"$F/T2.txt"
check "the prefix's pairs are all A's" test -z "$(LC_ALL=C comm -23 "$F/T2.txt" "$F/A.txt" | head -1)"
cp "$F/a.dump" "$F/corrupt.dump"
printf '\125' | dd of="$F/corrupt.dump" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s "$F/a.dump" "$F/corrupt.dump" || ok # (the byte may already have been 0x55)
printf '\252' | dd of="$F/corrupt.dump" bs=1 seek=$((size / 2 + 1)) conv=notrunc 2>/dev/null
s create T3
run 3 "a corrupted byte in the middle" -- s load T3 "$F/corrupt.dump"
err_has "corrupt message" "nothing was loaded"
check "T3 still has 0 keys" test "$(nkeys T3)" -eq 0
run 3 "corrupt dump into a new table" -- s load T4 "$F/corrupt.dump"
run 1 "T4 not created" -- s stats T4
run 0 "no temporary tables left behind" -- s ls --all
check "no .shmkv-load tables" sh -c "! grep -q shmkv-load '$F/out'"
check "no temporary dump files left" sh -c "! ls '$F' | grep -q tmp-"

# ---- a terminal: progress bar, escaping -------------------------------------------
if command -v script >/dev/null; then
    # the reader of the dump waits, so the dump takes long enough for real rates
    script -qec "'$tool' dump A | (sleep 0.5; cat >'$F/p.dump')" /dev/null >"$F/pty" 2>&1
    check "dump shows a progress bar with ETA on a terminal" grep -Eq 'ETA [0-9]+:[0-9]{2}' "$F/pty"
    check "dump progress counts records" grep -q '%.*records' "$F/pty"
    check "the dump made on a terminal is complete" test "$(stat -c %s "$F/p.dump")" -eq "$size"
    script -qec "'$tool' load P '$F/p.dump'" /dev/null >"$F/pty" 2>&1
    check "load from a file shows a progress bar by bytes" grep -q 'load P \[.*%.*MiB.*ETA' "$F/pty"
    check "P loaded" test "$(nkeys P)" -eq "$npairs"
    script -qec "(head -c 100000; sleep 0.5; cat) <'$F/p.dump' | '$tool' load P" /dev/null >"$F/pty" 2>&1
    check "load from a slow pipe shows ETA from the header's count" grep -Eq 'load P \[.*records.*ETA [0-9]+:[0-9]{2}' "$F/pty"
    check "the load into an existing table shows the apply phase" grep -q 'apply P' "$F/pty"
    check "P still has every pair" test "$(nkeys P)" -eq "$npairs"
    s rm P
    script -qec "'$tool' get t bin" /dev/null >"$F/pty" 2>&1
    check "get escapes binary on a terminal" grep -qF 'a\x00b\xffc' "$F/pty"
    script -qec "'$tool' --raw get t bin" /dev/null >"$F/pty" 2>&1
    check "--raw writes raw bytes to a terminal" python3 -c '
import sys; sys.exit(b"a\x00b\xffc" not in open(sys.argv[1], "rb").read())' "$F/pty"
    script -qec "'$tool' keys t" /dev/null >"$F/pty" 2>&1
    check "keys escapes on a terminal" grep -qF '\x00\xff\x00' "$F/pty"
    script -qec "'$tool' dump A" /dev/null >"$F/pty" 2>&1
    check "dump to a terminal is refused" grep -q 'refusing' "$F/pty"
    script -qec "'$tool' top t --count 1 -i 0.1" /dev/null >"$F/pty" 2>&1
    check "top on a terminal clears the screen" grep -q "$(printf '\033')\[2J" "$F/pty"
    check "top shows the reads note" grep -q 'reads are not counted (lock-free readers write nothing; create with --stats to count)' "$F/pty"
else
    echo "script(1) not found: terminal tests skipped"
fi

# ---- rm ----------------------------------------------------------------------------
run 0 "rm" -- s rm B
check "rm removed the file" test ! -e "$SHMKV_DIR/B"
run 1 "rm of a missing table" -- s rm B
run 1 "get after rm" -- s get B k
run 0 "rm --force of a non-table" -- s rm --force junk
check "junk removed" test ! -e "$SHMKV_DIR/junk"
for n in A T2 T3 t big one one2 x tiny; do s rm --force "$n" 2>/dev/null; done
check "every table removed" test -z "$(ls -A "$SHMKV_DIR")"

end=$(date +%s.%N)
echo "test_cli: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
cli_end
