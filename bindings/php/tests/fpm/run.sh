#!/usr/bin/env bash
# The extension under a real PHP-FPM (Debian's php8.2-fpm), as a site runs it:
# two pools of 4 workers each on Unix sockets in a temporary directory (as
# two users when run as root), requests sent with cgi-fcgi (libfcgi-bin).
#
#   tests/fpm/run.sh [SHMKV_SO]        (default: modules/shmkv.so)
#
# Checks that a value stored by a request of pool A is read by pool B and by
# the CLI (and the other way), that a third pool naming its own table
# (php_admin_value[shmkv.table]) gets it, that shmkv_inc from 8 concurrent
# requests counts exactly, that a worker killed with SIGKILL in the middle
# of a request that writes leaves the cache working for the others and the
# table sound, and that the cache survives a restart of FPM.  Everything it
# starts (FPM, the requests) it stops, and it removes its directory and
# tables.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ext=$(realpath "${1:-$here/../../modules/shmkv.so}")
tool=$(realpath "$here/../../../../build/shmkv")
php=${PHP:-$(command -v php8.2 || command -v php)}
# shellcheck source-path=SCRIPTDIR source=fpm.sh
. "$here/fpm.sh"

tmp=$(mktemp -d /tmp/shmkv-fpm.XXXXXX)   # in /tmp: the pools' users must reach the scripts
table=/dev/shm/$(basename "$tmp")   # where a site's cache lives, so it outlives FPM
bg_pids=()

cleanup() {
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    fpm_stop
    rm -rf "$tmp"
    rm -f "$table" "$table-c"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
failed=0
check() { # check DESCRIPTION EXPECTED ACTUAL
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1: expected '$2', got '$3'"
        failed=$((failed + 1))
    fi
}
die() { echo "fpm test: $*" >&2; [ -f "$tmp/fpm.log" ] && sed 's/^/  fpm.log: /' "$tmp/fpm.log" >&2; exit 1; }

# ---- the site: scripts that the workers run ----
mkdir "$tmp/www"
chmod 755 "$tmp" "$tmp/www"
cat > "$tmp/www/store.php" <<'EOF'
<?php echo shmkv_store($_GET['k'], $_GET['v']) ? 'stored' : 'failed';
EOF
cat > "$tmp/www/fetch.php" <<'EOF'
<?php var_export(shmkv_fetch($_GET['k']));
EOF
# counts once all the requests of a round are running, so they overlap
cat > "$tmp/www/inc.php" <<'EOF'
<?php
$k = $_GET['k'];
shmkv_inc("$k:ready");
for ($t = 0; !shmkv_exists("$k:go") && $t < 5000; $t++)
    usleep(1000);
$ok = 0;
for ($i = 0; $i < (int)$_GET['n']; $i++)
    $ok += shmkv_inc($k) !== false;
echo $ok;
EOF
cat > "$tmp/www/pid.php" <<'EOF'
<?php echo getmypid();
EOF
# writes without end, until killed: stores, counters, deletes, iteration
cat > "$tmp/www/churn.php" <<'EOF'
<?php
shmkv_store('churner', getmypid());
for ($i = 0; ; $i++) {
    shmkv_store('churn:' . ($i % 500), str_repeat(chr(65 + $i % 26), 200 + $i % 3000));
    shmkv_inc('churn:count');
    if ($i % 7 == 0) shmkv_delete('churn:' . (($i * 13) % 500));
    if ($i % 1000 == 0) foreach (new ShmkvIterator(prefix: 'churn:', chunk_size: 50) as $x);
}
EOF
chmod 644 "$tmp"/www/*.php

# ---- FPM: two pools, each its own user when we are root, and a third
# with a table of its own ----
fpm_conf "$tmp" a:4:nobody:nogroup b:4:daemon:daemon "c:1:nobody:nogroup:$table-c"
start_fpm() { fpm_start "$tmp" -d "extension=$ext" -d "shmkv.table=$table" || die "php-fpm did not start"; }
req() { fpm_req "$tmp" "$@"; } # req POOL SCRIPT [QUERY]: the response body
cli() { # cli CODE: run PHP code in the CLI on the same table
    "$php" -n -d "extension=$ext" -d "shmkv.table=$table" -r "$1"
}

start_fpm
echo "# php-fpm $("$fpm" -n -v | head -n1 | cut -d' ' -f2), pools a and b (4 workers each) on $table, c on $table-c"

# ---- one cache for both pools and the CLI ----
check "pool a stores" stored "$(req a store.php 'k=greeting&v=hello')"
check "pool b reads what pool a stored" "'hello'" "$(req b fetch.php k=greeting)"
check "the CLI reads it" hello "$(cli 'echo shmkv_fetch("greeting");')"
cli 'shmkv_store("from-cli", [1, 2]);'
check "pool a reads what the CLI stored" "array ( 0 => 1, 1 => 2, )" "$(req a fetch.php k=from-cli | tr -s ' \n' ' ')"
check "pool c, which names its own table, does not see pool a's" "false" "$(req c fetch.php k=greeting)"
req c store.php 'k=greeting&v=pool+c' > /dev/null
check "pool c reads its own" "'pool c'" "$(req c fetch.php k=greeting)"
check "and pool a still its" "'hello'" "$(req a fetch.php k=greeting)"
check "the CLI on pool c's table reads pool c's" "pool c" \
    "$("$php" -n -d "extension=$ext" -d "shmkv.table=$table-c" -r 'echo shmkv_fetch("greeting");')"
if [ "$(id -u)" -eq 0 ]; then
    # the table is root's (0600): the workers use the handle their master
    # opened before it forked them and dropped to nobody and daemon
    pa=$(req a pid.php); pb=$(req b pid.php)
    check "the pools run as two users" "nobody daemon" "$(stat -c %U "/proc/$pa") $(stat -c %U "/proc/$pb")"
fi

# ---- 8 concurrent requests counting ----
# count KEY N: 8 requests at once, 4 to each pool, each adding 1 N times
count() {
    for i in $(seq 8); do
        req "$([ $((i % 2)) -eq 0 ] && echo a || echo b)" inc.php "k=$1&n=$2" > "$tmp/inc.$i" &
        bg_pids+=($!)
    done
    for _ in $(seq 500); do
        [ "$(cli "echo shmkv_fetch('$1:ready');")" = 8 ] && break
        sleep 0.01
    done
    cli "shmkv_store('$1:go', 1);"
    for p in "${bg_pids[@]}"; do wait "$p"; done
    bg_pids=()
    for f in "$tmp"/inc.*; do cat "$f"; echo; done | paste -sd' '
}
check "8 concurrent requests, all running at once, each counted 5000" "$(printf '5000 %.0s' $(seq 8) | sed 's/ $//')" \
    "$(count hits 5000)"
check "shmkv_inc from 8 concurrent requests counts exactly" 40000 "$(cli 'echo shmkv_fetch("hits");')"

# ---- a worker killed with SIGKILL in the middle of a request ----
for round in 1 2 3; do
    cli 'shmkv_delete("churner");'
    req a churn.php > /dev/null 2>&1 &
    bg_pids+=($!)
    victim=
    for _ in $(seq 100); do
        victim=$(cli 'echo shmkv_fetch("churner") ?: "";')
        [ -n "$victim" ] && break
        sleep 0.05
    done
    [ -n "$victim" ] || die "the churning request did not start"
    sleep 0.$((2 + round))     # let it write a while, then kill it wherever it is
    kill -KILL "$victim"
    wait "${bg_pids[@]}" 2>/dev/null || true
    bg_pids=()
done
count=$(cli 'echo shmkv_fetch("churn:count");')
check "the killed requests had written (count > 100)" yes "$([ "$count" -gt 100 ] && echo yes || echo "no ($count)")"
check "pool a still stores after its worker was killed" stored "$(req a store.php 'k=after-kill&v=fine')"
check "pool b reads it" "'fine'" "$(req b fetch.php k=after-kill)"
count after-kill-hits 1000 > /dev/null
check "8 concurrent requests still count exactly" 8000 "$(cli 'echo shmkv_fetch("after-kill-hits");')"
if "$tool" check "$table" > "$tmp/check.out" 2>&1; then sound=yes; else sound=$(cat "$tmp/check.out"); fi
check "the table is sound" yes "$sound"
check "FPM saw its worker killed" yes "$(grep -q 'signal 9' "$tmp/fpm.log" && echo yes || echo no)"

# ---- the cache outlives FPM ----
master=$fpm_pid
fpm_stop
left=$(grep -l "^PPid:[[:space:]]*$master\$" /proc/[0-9]*/status 2>/dev/null || true)
kill -0 "$master" 2>/dev/null && left="$left master"
check "FPM stopped, its workers too" "" "$left"
start_fpm
check "after a restart pool b still reads pool a's value" "'hello'" "$(req b fetch.php k=greeting)"
check "and the count" 40000 "$(req a fetch.php k=hits)"
check "no PHP warnings or errors in FPM's log" "" "$(grep -E 'PHP (Warning|Fatal|Notice)' "$tmp/fpm.log" || true)"
fpm_stop

echo "1..$n"
[ "$failed" -eq 0 ] || { echo "fpm test: $failed of $n checks failed" >&2; exit 1; }
