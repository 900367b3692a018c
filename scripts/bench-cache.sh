#!/usr/bin/env bash
# bench-cache.sh - shmkv's cache mode measured (issue 6), written as a
# BENCHMARKS.md-ready markdown section and a PNG plot (gnuplot).
#
#   scripts/bench-cache.sh [--quick] [--keys N] [--hr-keys N] [--runs R]
#                          [--procs P] [--mix-seconds S] [--out DIR] [--no-deps]
#                          [--report-only]
#
#   1  hit ratio: shmkv-bench --hitratio (--hr-keys, default 250,000 keys,
#      values 100 B..10 KiB; Zipf skews 0.7, 0.9, 0.99, 1.2; caches of 1, 5
#      and 10 % of the working set's bytes): shmkv in cache mode, an exact LRU
#      of the same byte budget, memcached -m the same budget
#   2  throughput: PUT and MIX of shmkv as a store, shmkv as a cache of 50 %
#      of the working set (--cache 50: evicting all the time) and memcached
#      (one command per operation, Unix socket, the same budget), P
#      processes (2), N keys (1,000,000), 8-byte keys and values, medians of
#      R runs (3), ratios from the same run
#
# --quick: 20,000 keys for the hit ratio (100,000 requests), 200,000 for the
# throughput, one run, MIX 1 s: a fast check of the whole pipeline.  Writes
# DIR (default bench-results/cache): cache.md (the section: tables, the
# plot, the machine, the exact commands), hitratio.png and raw/ (each run's
# text output and TSV); without --quick the plot is also copied to
# docs/bench/hitratio.png.  Installs what it needs first
# (scripts/install-deps.sh bench; --no-deps skips that) and builds
# build/shmkv-bench.  --report-only: run nothing, rewrite cache.md and the
# plot from DIR/raw (same options as the run).  Exits non-zero if a bench
# run failed.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
keys=1000000 hrkeys=250000 runs=3 procs=2 mix= out=bench-results/cache deps=1 quick=0
keys_set=0 hrkeys_set=0 runs_set=0

usage() { sed -n '2,30s/^# \{0,1\}//p' "$0"; }
report_only=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --keys) keys=$2; keys_set=1; shift ;;
    --hr-keys) hrkeys=$2; hrkeys_set=1; shift ;;
    --runs) runs=$2; runs_set=1; shift ;;
    --procs) procs=$2; shift ;;
    --mix-seconds) mix=$2; shift ;;
    --out) out=$2; shift ;;
    --no-deps) deps=0 ;;
    --report-only) report_only=1; deps=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-cache: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
hrargs=()
if [ $quick = 1 ]; then
    [ $keys_set = 1 ] || keys=200000
    [ $hrkeys_set = 1 ] || hrkeys=20000
    [ $runs_set = 1 ] || runs=1
    [ -n "$mix" ] || mix=1
    hrargs=(--quick)
fi
mixargs=()
[ -n "$mix" ] && mixargs=(--mix-seconds "$mix")

cd "$root" || exit 1
if [ $deps = 1 ]; then
    ./scripts/install-deps.sh bench || exit 1
fi
make -s build/shmkv-bench || exit 1
command -v gnuplot >/dev/null || { echo "bench-cache: gnuplot not found" >&2; exit 1; }
bench=build/shmkv-bench
mkdir -p "$out/raw" || exit 1
md=$out/cache.md
failed=0
started=$(date +%s)
cmds=()

# run NAME ARGS...: one bench run; text to raw/NAME.txt, TSV to raw/NAME.tsv.
run() {
    local name=$1 t0 rc
    shift
    cmds+=("$bench $* --tsv raw/$name.tsv")
    [ $report_only = 1 ] && return
    echo "== $name: $bench $*" >&2
    t0=$(date +%s)
    "$bench" "$@" --tsv "$out/raw/$name.tsv" | tee "$out/raw/$name.txt" >&2
    rc=${PIPESTATUS[0]}
    echo "== $name: $(( $(date +%s) - t0 )) s, exit status $rc" >&2
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "bench-cache: $name FAILED (see $out/raw/$name.txt)" >&2
    fi
}

run hitratio --hitratio --keys "$hrkeys" "${hrargs[@]}"
hr_secs=$(( $(date +%s) - started ))
run mix --system shmkv,shmkv-cache,memcached --cache 50 --phases put,mix --procs "$procs" \
    --keys "$keys" --runs "$runs" "${mixargs[@]}" --progress
elapsed=$(( $(date +%s) - started ))
if [ $report_only = 1 ]; then
    read -r hr_secs elapsed <"$out/raw/times" || exit 1
else
    echo "$hr_secs $elapsed" >"$out/raw/times"
fi

# ---- the plot: one panel per skew ------------------------------------------

hrtsv=$out/raw/hitratio.tsv
skews=$(awk -F'\t' 'NR > 1 && !seen[$1]++ { print $1 }' "$hrtsv")
{
    echo "set terminal pngcairo size 1200,900 font 'sans,11' noenhanced"
    echo "set output '$out/hitratio.png'"
    echo "set datafile separator '\t'"
    echo "set multiplot layout 2,2 title 'Hit ratio, cache-aside over Zipf keys, values 100 B..10 KiB ($hrkeys keys)'"
    echo "set xlabel 'cache size, % of the working set (key + value bytes)'"
    echo "set ylabel 'hit ratio, %'"
    echo "set grid"
    echo "set key below"
    echo "set offsets graph 0.05, graph 0.05, 0, 0"
    for s in $skews; do
        f=$out/raw/hitratio-$s.dat
        awk -F'\t' -v s="$s" 'NR > 1 && $1 == s { print $2 "\t" 100 * $4 "\t" 100 * $5 "\t" ($6 == "-" ? "NaN" : 100 * $6) }' "$hrtsv" >"$f"
        echo "set title sprintf('Zipf s = %s', '$s')"
        echo "plot '$f' using 1:2 with linespoints lw 2 pt 7 title 'shmkv (CLOCK, 2-bit counts)', \\"
        echo "     '$f' using 1:3 with linespoints lw 2 pt 5 dt 2 title 'exact LRU, same bytes', \\"
        echo "     '$f' using 1:4 with linespoints lw 2 pt 9 title 'memcached -m same'"
    done
    echo "unset multiplot"
} | gnuplot || failed=1
if [ $quick = 0 ] && [ -f "$out/hitratio.png" ]; then
    cp "$out/hitratio.png" docs/bench/hitratio.png
fi

# ---- the markdown ----------------------------------------------------------

machine() {
    local model
    model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
    echo "- CPU: ${model:-unknown}, $(nproc) cores online; memory $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- kernel: $(uname -sr); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(cc --version | head -1)"
    echo "- load when the runs ended: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
    echo "- shmkv $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"
    grep '^# systems:' "$out/raw/mix.txt" | sed 's/^# systems: */- versions: /'
}

{
    echo "## Cache mode (issue 6)"
    echo
    echo "Generated by \`scripts/bench-cache.sh$( [ $quick = 1 ] && echo ' --quick')\` in $(( elapsed / 60 )) min $(( elapsed % 60 )) s"
    echo "(hit ratios $hr_secs s)."
    [ $failed = 1 ] && echo && echo "**Some runs FAILED; see raw/*.txt.**"
    echo
    echo "### Hit ratio"
    echo
    sed -n 's/^# /> /p' "$out/raw/hitratio.txt" | head -2
    echo
    echo "| Zipf s | cache | budget | shmkv | exact LRU | memcached | shmkv − LRU | shmkv holds (live / budget) | memcached holds (bytes) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' 'function p(x) { return x == "-" ? "-" : sprintf("%.2f %%", 100 * x) }
        NR > 1 { d = ($4 == "-" || $5 == "-") ? "-" : sprintf("%+.2f", 100 * ($4 - $5))
                 if (d != "-" && d + 0 > 0) d = "**" d "**"
                 printf "| %s | %g %% | %d MiB | %s | %s | %s | %s | %.1f MiB (%.0f %%) | %.1f MiB |\n",
                        $1 + 0, $2, $3 / 1048576, p($4), p($5), p($6), d,
                        $8 / 1048576, 100 * $8 / $3, $15 / 1048576 }' "$hrtsv"
    echo
    echo "(shmkv − LRU in percentage points, bold where shmkv is ahead. \"holds\": key + value"
    echo "bytes cached at the end; LRU holds its whole budget by construction.)"
    echo
    echo "![hit ratio against cache size](docs/bench/hitratio.png)"
    echo
    echo "### Throughput as a cache"
    echo
    grep '^# cache mode' "$out/raw/mix.txt" | sed 's/^# /> /'
    echo
    echo "$procs processes, $keys keys, 8-byte keys and values, MIX 98 % gets / 2 % delete+put of"
    echo "uniform keys; M ops/s, median of $runs run(s)$( [ "$runs" -gt 1 ] && echo ' (min–max)'):"
    echo
    echo "| system | PUT | MIX | MIX gets that hit |"
    echo "|---|---:|---:|---:|"
    awk -F'\t' -v runs="$runs" '
        function f(x) { return sprintf(x >= 1 ? "%.2f" : "%.3f", x) }
        NR == 1 { next }
        { if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1 }
          v = f($5); if (runs > 1) v = v " (" f($6) "–" f($7) ")"; if ($4 != 1) v = v " FAILED"
          cell[$1, $2] = v
          if ($2 == "MIX") hit[$1] = ($22 == 1 && $23 > 0) ? sprintf("%.1f %%", 100 * ($23 - $24) / $23) : "100 % (store)" }
        END { for (i = 1; i <= ns; i++) { s = order[i]
              printf "| %s | %s | %s | %s |\n", s, cell[s, "PUT"], cell[s, "MIX"], hit[s] } }' "$out/raw/mix.tsv"
    echo
    awk -F'\t' 'NR > 1 && $2 == "MIX" { m[$1] = $5 }
        END { if (m["shmkv"] > 0 && m["shmkv-cache"] > 0)
                printf "MIX medians: shmkv-cache ÷ shmkv (store) = %.2f×", m["shmkv-cache"] / m["shmkv"]
              if (m["memcached"] > 0 && m["shmkv-cache"] > 0)
                printf "; shmkv-cache ÷ memcached = %.0f×", m["shmkv-cache"] / m["memcached"]
              print "." }' "$out/raw/mix.tsv"
    echo
    echo "Per run (same run, same machine state), MIX M ops/s:"
    echo
    echo "| run | shmkv | shmkv-cache | memcached | cache ÷ store | cache ÷ memcached |"
    echo "|---:|---:|---:|---:|---:|---:|"
    awk '$2 == "MIX" && $4 == "ops" && / M ops\/s/ { r = 1; if (match($0, /\[run [0-9]+/)) r = substr($0, RSTART + 5, RLENGTH - 5)
            m[r, $1] = $5; if (r > nr) nr = r }
        END { for (r = 1; r <= nr; r++) { a = m[r, "shmkv"]; b = m[r, "shmkv-cache"]; c = m[r, "memcached"]
              printf "| %d | %s | %s | %s | %s | %s |\n", r, a, b, c,
                (a > 0 && b > 0) ? sprintf("%.2f×", b / a) : "-", (b > 0 && c > 0) ? sprintf("%.0f×", b / c) : "-" } }' \
        "$out/raw/mix.txt"
    echo
    echo "### Machine"
    echo
    machine
    echo
    echo "### Commands"
    echo
    echo '```sh'
    echo "scripts/bench-cache.sh$( [ $quick = 1 ] && echo ' --quick') --keys $keys --hr-keys $hrkeys --runs $runs --procs $procs${mix:+ --mix-seconds $mix}"
    echo "# which ran:"
    for c in "${cmds[@]}"; do echo "$c"; done
    echo '```'
} >"$md"

echo "bench-cache: wrote $md and $out/hitratio.png ($elapsed s)" >&2
[ $failed = 0 ]
