#!/usr/bin/env bash
# compare.sh - the standard comparison of shmkv with its peers, written
# as BENCHMARKS.md-ready markdown tables and PNG plots (gnuplot).
#
#   bench/compare.sh [--quick] [--keys N] [--runs R] [--procs P]
#                    [--sizes N1,N2,...] [--systems LIST]
#                    [--mix-seconds S] [--out DIR] [--no-deps]
#
#   1  every system (--systems, default all available), P processes (2),
#      N keys (10,000,000), 8-byte keys and values, medians of R runs (3),
#      ratios shmkv (and shmkv-sized) / peer, same run; latency; bytes/pair
#   2  the same systems, 100-byte values, one run
#   3  the same systems, Zipf (s = 0.99) keys for MIX and GET, one run
#   4  shmkv alone as the keys grow (--sizes, default 1000000,10000000,
#      50000000; 50 M pairs of 8+8 bytes need about 2.5 GB of /dev/shm)
#   5  shmkv gets one at a time against shmkv_get_many in batches of 16
#
# --quick: 200,000 keys, one run, sizes 50000,100000,200000, MIX 1 s: a fast
# check of the whole pipeline.  Writes DIR (default bench-results/):
# BENCHMARKS.md (the tables, the plots, the machine, the exact commands),
# *.png, and raw/ (each bench run's text output and TSV summary).
# Installs what it needs first (scripts/install-deps.sh bench; --no-deps
# skips that) and builds build/shmkv-bench.  Exits non-zero if a bench run
# failed (a mismatch, an error); the tables still show what was measured.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
keys=10000000 runs=3 procs=2 sizes=1000000,10000000,50000000 systems=all
mix='' out=bench-results deps=1 quick=0
keys_set=0 runs_set=0 sizes_set=0

usage() { sed -n '2,26s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --keys) keys=$2; keys_set=1; shift ;;
    --runs) runs=$2; runs_set=1; shift ;;
    --procs) procs=$2; shift ;;
    --sizes) sizes=$2; sizes_set=1; shift ;;
    --systems) systems=$2; shift ;;
    --mix-seconds) mix=$2; shift ;;
    --out) out=$2; shift ;;
    --no-deps) deps=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [ $quick = 1 ]; then
    [ $keys_set = 1 ] || keys=200000
    [ $runs_set = 1 ] || runs=1
    [ $sizes_set = 1 ] || sizes=50000,100000,200000
    [ -n "$mix" ] || mix=1
fi
mixargs=()
[ -n "$mix" ] && mixargs=(--mix-seconds "$mix")

me='bench/compare.sh'
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_setup
md=$out/BENCHMARKS.md

human() { # 10000000 -> 10 M
    awk -v n="$1" 'BEGIN { if (n >= 1e6 && n % 1e5 == 0) printf "%g M", n / 1e6;
                           else if (n >= 1e3 && n % 100 == 0) printf "%g k", n / 1e3;
                           else printf "%d", n }'
}

# ---- the runs ------------------------------------------------------------

# how often this machine takes the CPU away: a floor under any p99.9
cmds+=("$bench --stall-probe 5")
"$bench" --stall-probe 5 | tee "$out/raw/stall.txt" >&2
base=(--procs "$procs" --keys "$keys" "${mixargs[@]}" --progress)
run std --system "$systems" --runs "$runs" "${base[@]}"
run val100 --system "$systems" --val-size 100 "${base[@]}"
run zipf --system "$systems" --dist zipf --zipf-s 0.99 "${base[@]}"
IFS=, read -r -a sizelist <<<"$sizes"
for n in "${sizelist[@]}"; do
    run "size-$n" --system shmkv --procs "$procs" --keys "$n" "${mixargs[@]}" --progress
done
run batch1 --system shmkv --phases put,mix,get "${base[@]}"
run batch16 --system shmkv --phases put,mix,get --batch 16 "${base[@]}"
elapsed=$(( $(date +%s) - started ))

# ---- tables --------------------------------------------------------------

# TSV columns: 1 system 2 phase 3 runs 4 ok 5 mops 6 min 7 max 8 B/pair 9 wrong
# 10-13 get p50 p99 p999 max, 14-17 put ..., 18-21 del ...
throughput_table() { # TSV: systems x phases, M ops/s (min-max), memory
    awk -F'\t' -v runs="$2" '
    NR == 1 { next }
    { if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 }
      v = sprintf(($5 >= 1 ? "%.2f" : "%.3f"), $5)
      if (runs > 1) v = v sprintf((" (%.3g-%.3g)"), $6, $7)
      if ($4 != 1) v = v " FAILED"
      cell[$1, $2] = v
      if ($2 == "PUT") mem[$1] = $8 }
    END {
      print "| system | PUT | MIX | GET | DEL | memory, bytes/pair |"
      print "|---|---:|---:|---:|---:|---:|"
      for (i = 1; i <= ns; i++) {
        s = order[i]; line = "| " s
        n = split("PUT MIX GET DEL", ph, " ")
        for (j = 1; j <= n; j++) line = line " | " ((s, ph[j]) in cell ? cell[s, ph[j]] : "-")
        print line " | " (s in mem ? sprintf("%.1f", mem[s]) : "-") " |"
      } }' "$1"
}

ratio_table() { # shmkv (and shmkv-sized, when it ran) / each peer, per phase
    awk -F'\t' '
    NR == 1 { next }
    { if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 }; m[$1, $2] = $5 }
    END {
      print "| ratio | PUT | MIX | GET | DEL |"
      print "|---|---:|---:|---:|---:|"
      split("shmkv shmkv-sized", mine, " ")
      for (k = 1; k <= 2; k++) {
        me = mine[k]; if (!(me in seen)) continue
        for (i = 1; i <= ns; i++) {
          s = order[i]; if (s ~ /^shmkv/) continue
          line = "| " me " ÷ " s
          n = split("PUT MIX GET DEL", ph, " ")
          for (j = 1; j <= n; j++) {
            a = m[me, ph[j]]; b = m[s, ph[j]]
            line = line " | " ((a > 0 && b > 0) ? sprintf(a / b >= 10 ? "%.0f×" : "%.1f×", a / b) : "-")
          }
          print line " |"
        }
      } }' "$1"
}

latency_table() { # p50 / p99 / p99.9 / max, us
    awk -F'\t' '
    function f(x) { return x < 1 ? sprintf("%.2f", x) : x < 10 ? sprintf("%.1f", x) : sprintf("%.0f", x) }
    function cellof(p) { return $p == "-" ? "-" : f($p) " / " f($(p+1)) " / " f($(p+2)) " / " f($(p+3)) }
    NR == 1 { next }
    { if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 }
      if ($2 == "PUT") c[$1, 1] = cellof(14)
      if ($2 == "MIX") { c[$1, 2] = cellof(10); c[$1, 3] = cellof(18); c[$1, 4] = cellof(14) }
      if ($2 == "GET") c[$1, 5] = cellof(10)
      if ($2 == "DEL") c[$1, 6] = cellof(18) }
    END {
      print "| system | PUT: put | MIX: get | MIX: del | MIX: put | GET: get | DEL: del |"
      print "|---|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= ns; i++) {
        s = order[i]; line = "| " s
        for (j = 1; j <= 6; j++) line = line " | " ((s, j) in c ? c[s, j] : "-")
        print line " |"
      } }' "$1"
}

# Data for a clustered bar chart: a row per phase, a column per system.
bars_data() {
    awk -F'\t' '
    NR == 1 { next }
    { if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 }; m[$1, $2] = $5; ph[$2] = 1 }
    END {
      line = "phase"; for (i = 1; i <= ns; i++) line = line "\t" order[i]; print line
      n = split("PUT MIX GET DEL", p, " ")
      for (j = 1; j <= n; j++) {
        if (!(p[j] in ph)) continue
        line = p[j]; for (i = 1; i <= ns; i++) line = line "\t" ((order[i], p[j]) in m ? m[order[i], p[j]] : "NaN")
        print line
      } }' "$1"
}

bar_plot() { # TSV PNG TITLE
    local data=$out/raw/$(basename "$2" .png).dat ncol floor
    bars_data "$1" >"$data"
    ncol=$(head -1 "$data" | awk -F'\t' '{ print NF }')
    floor=$(awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; i++) if ($i + 0 > 0 && (min == "" || $i + 0 < min)) min = $i + 0 }
        END { if (min == "") min = 1; print 10 ^ int(log(min) / log(10) - (min < 1 ? 1 : 0)) }' "$data")
    gnuplot <<EOF
set terminal pngcairo size 1100,600 font "sans,11" noenhanced
set output "$out/$2"
set title "$3"
set datafile separator "\t"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [$floor:*]
set format y "%g"
set grid ytics mytics
set ylabel "throughput, M ops/s (log scale; all workers together)"
set xlabel "phase"
set key outside right top title "system"
plot for [i=2:$ncol] "$data" using i:xtic(1) title columnheader(i)
EOF
}

machine() {
    machine_common
    grep '^# systems:' "$out/raw/std.txt" | sed 's/^# systems: */- versions: /'
    grep '^# not available' "$out/raw/std.txt" | sed 's/^# /- /'
    grep '^# latency:' "$out/raw/std.txt" | sed 's/^# latency: */- latency method: /'
    grep '^stall probe:' "$out/raw/stall.txt" | sed 's/^stall probe: */- the CPU taken away (shmkv-bench --stall-probe 5, before the runs): /'
}

bar_plot "$out/raw/std.tsv" throughput.png \
    "Throughput, $procs processes, $(human "$keys") keys of 8 B, values of 8 B (median of $runs)"
bar_plot "$out/raw/val100.tsv" throughput-val100.png \
    "Throughput, $procs processes, $(human "$keys") keys of 8 B, values of 100 B"
bar_plot "$out/raw/zipf.tsv" throughput-zipf.png \
    "Throughput, $procs processes, $(human "$keys") keys, MIX and GET keys Zipf s=0.99"

# 4: shmkv as keys grow
sizedat=$out/raw/sizes.dat
{
    printf 'keys\tPUT\tMIX\tGET\tDEL\tlabel\n'
    for n in "${sizelist[@]}"; do
        awk -F'\t' -v n="$n" -v h="$(human "$n")" 'NR > 1 { m[$2] = $5 }
            END { printf "%s\t%s\t%s\t%s\t%s\t%s\n", n / 1e6, m["PUT"], m["MIX"], m["GET"], m["DEL"], h }' \
            "$out/raw/size-$n.tsv"
    done
} >"$sizedat"
gnuplot <<EOF
set terminal pngcairo size 1000,600 font "sans,11" noenhanced
set output "$out/shmkv-sizes.png"
set title "shmkv as the table grows: $procs processes, 8 B keys and values"
set datafile separator "\t"
set logscale x
set xlabel "keys in the table (log scale)"
set ylabel "throughput, M ops/s (all workers together)"
set yrange [0:*]
set grid
set key outside right top title "phase"
set offsets graph 0.05, graph 0.05, 0, 0
plot for [i=2:5] "$sizedat" using 1:i:xticlabels(6) with linespoints lw 2 pt 7 title columnheader(i)
EOF

# 5: get vs get_many
batchdat=$out/raw/batch.dat
{
    printf 'phase\tshmkv_get (one at a time)\tshmkv_get_many (batches of 16)\n'
    for ph in GET MIX; do
        a=$(awk -F'\t' -v p=$ph '$2 == p { print $5 }' "$out/raw/batch1.tsv")
        b=$(awk -F'\t' -v p=$ph '$2 == p { print $5 }' "$out/raw/batch16.tsv")
        printf '%s\t%s\t%s\n' "$ph" "${a:-NaN}" "${b:-NaN}"
    done
} >"$batchdat"
gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,11" noenhanced
set output "$out/shmkv-batch.png"
set title "shmkv gets: one at a time vs shmkv_get_many, $(human "$keys") keys, $procs processes"
set datafile separator "\t"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set ylabel "throughput, M ops/s (all workers together)"
set xlabel "phase (MIX: 98 % gets, batched like GET's; 2 % delete+put, one by one)"
set key outside right top
plot for [i=2:3] "$batchdat" using i:xtic(1) title columnheader(i)
EOF

# ---- the markdown ----------------------------------------------------------

{
    echo "# shmkv benchmarks"
    echo
    echo "Generated by \`bench/compare.sh$( [ $quick = 1 ] && echo ' --quick')\` in"
    echo "$(( elapsed / 60 )) min $(( elapsed % 60 )) s. Throughput is M ops/s of all workers together"
    echo "(each get, put and delete is one operation; a MIX update is a delete and a put);"
    echo "every value read was checked against the one expected. Workers are fresh"
    echo "processes each phase; before the (timed) release each one maps in the pages"
    echo "of the store's file (shmkv, LMDB, Boost), as a long-lived process has them."
    [ $failed = 1 ] && echo && echo "**Some runs FAILED; see raw/*.txt.**"
    echo
    echo "## Machine"
    echo
    machine
    echo
    echo "## 1. All systems, $(human "$keys") keys, 8-byte keys and values, $procs processes"
    echo
    echo "Median of $runs run(s)$( [ "$runs" -gt 1 ] && echo ' (min-max)'), M ops/s. Memory after PUT, as each system"
    echo "counts it: shmkv file bytes, LMDB pages in use, Redis \`used_memory\`, memcached"
    echo "\`bytes\`, Boost segment bytes in use (servers' RSS is in raw/std.txt)."
    echo
    throughput_table "$out/raw/std.tsv" "$runs"
    echo
    echo "shmkv's throughput (growing from empty, and as shmkv-sized told the key count when"
    echo "created, as libshmcache is told its max_key_count) divided by each peer's, medians from the same run:"
    echo
    ratio_table "$out/raw/std.tsv"
    echo
    echo "Latency, µs: p50 / p99 / p99.9 / max of the timed operations (every 64th;"
    echo "a batch or pipeline round trip counts as one sample of each type in it):"
    echo
    latency_table "$out/raw/std.tsv"
    echo
    echo "![throughput per phase](throughput.png)"
    echo
    echo "## 2. 100-byte values"
    echo
    throughput_table "$out/raw/val100.tsv" 1
    echo
    ratio_table "$out/raw/val100.tsv"
    echo
    echo "![throughput with 100-byte values](throughput-val100.png)"
    echo
    echo "## 3. Zipf-distributed keys (s = 0.99) for MIX and GET"
    echo
    echo "GET does $(human "$keys") gets of Zipf-drawn keys instead of every key once."
    echo
    throughput_table "$out/raw/zipf.tsv" 1
    echo
    ratio_table "$out/raw/zipf.tsv"
    echo
    echo "![throughput with Zipf keys](throughput-zipf.png)"
    echo
    echo "## 4. shmkv as the keys grow"
    echo
    echo "| keys | PUT | MIX | GET | DEL | file bytes/pair |"
    echo "|---:|---:|---:|---:|---:|---:|"
    for n in "${sizelist[@]}"; do
        awk -F'\t' -v n="$(human "$n")" 'NR > 1 { m[$2] = $5; if ($2 == "PUT") b = $8; ok = ok && $4 == 1 }
            BEGIN { ok = 1 }
            END { printf "| %s | %.2f | %.2f | %.2f | %.2f | %.1f |%s\n", n, m["PUT"], m["MIX"],
                  m["GET"], m["DEL"], b, ok ? "" : " FAILED" }' "$out/raw/size-$n.tsv"
    done
    echo
    echo "![shmkv as the keys grow](shmkv-sizes.png)"
    echo
    echo "## 5. shmkv_get against shmkv_get_many (batches of 16)"
    echo
    echo "| gets | MIX M ops/s | GET M ops/s | GET latency p50 / p99 / p99.9 / max, µs |"
    echo "|---|---:|---:|---:|"
    for b in 1 16; do
        awk -F'\t' -v b=$b 'function f(x) { return x < 1 ? sprintf("%.2f", x) : x < 10 ? sprintf("%.1f", x) : sprintf("%.0f", x) }
            NR > 1 { m[$2] = $5; if ($2 == "GET") l = f($10) " / " f($11) " / " f($12) " / " f($13) }
            END { printf "| %s | %.2f | %.2f | %s |\n", b == 1 ? "one at a time" : "batches of " b,
                  m["MIX"], m["GET"], l }' "$out/raw/batch$b.tsv"
    done
    echo
    echo "(A batch's latency is that of the whole shmkv_get_many call.)"
    echo
    echo "![get vs get_many](shmkv-batch.png)"
    echo
    echo "## Commands"
    echo
    echo '```sh'
    echo "bench/compare.sh $( [ $quick = 1 ] && echo '--quick ')--keys $keys --runs $runs --procs $procs --sizes $sizes --systems $systems${mix:+ --mix-seconds $mix}"
    echo "# which ran:"
    for c in "${cmds[@]}"; do echo "$c"; done
    echo '```'
} >"$md"

echo "bench/compare.sh: wrote $md and $(ls "$out"/*.png | wc -l) plots in $out/ ($elapsed s)" >&2
[ $failed = 0 ]
