#!/usr/bin/env bash
# The PHP benchmark: shmkv against APCu (php8.2-apcu), the same operations
# (ops.php) on both, in the same run.
#
#   bench/run.sh [--quick] [--rounds R] [--workers W]
#
#  1. CLI: each operation N times in one process (APCu with apc.enable_cli=1);
#     median ns per call of REPEATS, APCu and shmkv taking turns R times.
#  2. FPM: one pool of W workers (default 8) plus a control pool; W requests
#     released together each run the operation N times; throughput is all
#     their calls over the slowest one's time.  Median of R rounds, APCu
#     and shmkv FPMs taking turns.
#
# Prints Markdown tables (and the machine) for BENCHMARKS.md.  Stops every
# FPM it starts and removes its directory and table.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ext=$(realpath "$here/../modules/shmkv.so")
apcu=$(php -n -r 'echo PHP_EXTENSION_DIR;')/apcu.so
php=${PHP:-$(command -v php8.2 || command -v php)}
# shellcheck source-path=SCRIPTDIR source=../tests/fpm/fpm.sh
. "$here/../tests/fpm/fpm.sh"

rounds=5 workers=8 cli_n=200000 cli_rep=5 fpm_n=50000
while [ $# -gt 0 ]; do
    case $1 in
        --quick) rounds=1 cli_n=20000 cli_rep=3 fpm_n=5000 ;;
        --rounds) rounds=$2; shift ;;
        --workers) workers=$2; shift ;;
        *) echo "usage: $0 [--quick] [--rounds R] [--workers W]" >&2; exit 2 ;;
    esac
    shift
done
[ -f "$ext" ] || { echo "bench: build the extension first (make php)" >&2; exit 1; }
[ -f "$apcu" ] || { echo "bench: APCu is missing (apt-get install php8.2-apcu)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/shmkv-php-bench.XXXXXX)   # in /tmp: the pool's user must reach the scripts
table=/dev/shm/$(basename "$tmp")
trap 'fpm_stop; rm -rf "$tmp"; rm -f "$table"' EXIT
trap 'exit 1' INT TERM
chmod 755 "$tmp"
mkdir -m 755 "$tmp/www"
cp "$here/ops.php" "$here/worker.php" "$tmp/www/"
chmod 644 "$tmp"/www/*.php

# settings SYS: the php/php-fpm options that load SYS (apcu or shmkv)
settings() {
    case $1 in
        apcu) echo "-d extension=$apcu -d apc.enable_cli=1 -d apc.shm_size=64M" ;;
        shmkv) echo "-d extension=$ext -d shmkv.table=$table -d shmkv.max_bytes=64M" ;;
    esac
}
# shellcheck disable=SC2016 # PHP code, not shell
ops=$("$php" -r 'require $argv[1]; echo implode("\n", array_keys(bench_ops()));' "$here/ops.php")

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---- 1. CLI ----
for r in $(seq "$rounds"); do
    for sys in apcu shmkv; do
        # shellcheck disable=SC2046 # settings are words without spaces
        "$php" -n $(settings "$sys") "$here/cli.php" "${sys}_" "$cli_n" "$cli_rep" > "$tmp/cli.$sys.$r"
    done
done
rm -f "$table"

# ---- 2. FPM ----
# fpm_round SYS OP: one round of $workers requests; prints M calls/s: all
# their calls over the time from the first one's start to the last one's end
fpm_round() {
    local sys=$1 op=$2 run=$RANDOM$RANDOM i pids=()
    local q="p=${sys}_&run=$run"
    for i in $(seq "$workers"); do
        fpm_req "$tmp" w worker.php "$q&do=run&n=$fpm_n&op=${op// /+}" > "$tmp/out.$i" &
        pids+=($!)
    done
    for _ in $(seq 1000); do
        [ "$(fpm_req "$tmp" ctl worker.php "$q&do=ready")" -ge "$workers" ] && break
        sleep 0.01
    done
    fpm_req "$tmp" ctl worker.php "$q&do=go" > /dev/null
    wait "${pids[@]}"
    for i in $(seq "$workers"); do
        grep -qE '^[0-9]+ [0-9]+$' "$tmp/out.$i" || { echo "bench: $sys $op: $(cat "$tmp/out.$i")" >&2; exit 1; }
    done
    for i in $(seq "$workers"); do cat "$tmp/out.$i"; echo; done | awk -v calls=$((workers * fpm_n)) '
        NR == 1 || $1 < first { first = $1 }
        NR == 1 || $2 > last { last = $2 }
        END { printf "%.3f\n", calls / (last - first) * 1000 }'
}
fpm_conf "$tmp" "w:$workers" ctl:1
for r in $(seq "$rounds"); do
    for sys in apcu shmkv; do
        # shellcheck disable=SC2046
        fpm_start "$tmp" $(settings "$sys")
        fpm_req "$tmp" ctl worker.php "p=${sys}_&do=fill" > /dev/null
        while read -r op; do
            echo "$op	$(fpm_round "$sys" "$op")" >> "$tmp/fpm.$sys.$r"
        done <<< "$ops"
        fpm_stop
        rm -f "$table"
    done
done

# ---- report ----
# value OP FILES...: the median over the rounds' files of OP's figure
value() { local op=$1; shift; cat "$@" | awk -F'\t' -v op="$op" '$1 == op { print $2 }' | median; }
# table KIND UNIT FORMAT: the Markdown table of KIND (cli or fpm) for every op
table() {
    echo "| operation | APCu $2 | shmkv $2 | shmkv ÷ APCu |"
    echo "|---|---:|---:|---:|"
    while read -r op; do
        a=$(value "$op" "$tmp/$1".apcu.*) s=$(value "$op" "$tmp/$1".shmkv.*)
        awk -v op="$op" -v a="$a" -v s="$s" -v f="$3" 'BEGIN { printf "| %s | " f " | " f " | %.2f |\n", op, a, s, s / a }'
    done <<< "$ops"
}
echo "Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(uname -sr)," \
     "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $("$php" -n -v | head -n1 | cut -d' ' -f1-2)," \
     "APCu $("$php" -n -d "extension=$apcu" -r 'echo phpversion("apcu");'), shmkv $("$php" -n -d "extension=$ext" -r 'echo phpversion("shmkv");')."
echo
echo "CLI, one process, $cli_n calls per run, the median of $rounds rounds of each one's median of $cli_rep runs" \
     "(ns per call; shmkv ÷ APCu: below 1 is faster):"
echo
table cli ns %.0f
echo
echo "FPM, $workers workers, $workers concurrent requests of $fpm_n calls, median of $rounds rounds" \
     "(M calls/s of all workers; shmkv ÷ APCu: above 1 is faster):"
echo
table fpm M/s %.3f
