#!/usr/bin/env bash
# scaling.sh - how each system's throughput grows with the number of
# processes, on a machine with more cores than the standard comparison's 2.
#
#   bench/scaling.sh [--procs 1,2,4,8,16] [--keys N] [--runs R]
#                    [--systems LIST] [--mix-seconds S] [--dir DIR] [--out DIR]
#   bench/scaling.sh --tables DIR     (the tables again from DIR/raw)
#
# For each process count P it runs shmkv-bench --procs P (PUT, MIX, GET;
# N keys, default 2,000,000; medians of R runs, default 3; the systems
# alternated within each run, default shmkv and each of shf, libshmcache
# and lmdb the bench was built with; tables in --dir, default /dev/shm)
# and writes DIR/SCALING.md (default bench-results/): per phase, M ops/s
# of all processes together against P, the best ÷ 1 process, then the
# machine.  DIR/raw keeps each run's text and TSV.  BENCH (environment) is
# the bench command, default build/shmkv-bench (built by make when
# missing), e.g. a copy carried to another machine with its libraries:
#   BENCH=".devrun/ld-linux-x86-64.so.2 --library-path .devrun .devrun/shmkv-bench"
# Exits non-zero if a bench run failed.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
procs=1,2,4,8,16 keys=2000000 runs=3 systems='' mix=2 dir=/dev/shm out=bench-results tables=''
while [ $# -gt 0 ]; do
    case $1 in
    --procs) procs=$2; shift ;;
    --keys) keys=$2; shift ;;
    --runs) runs=$2; shift ;;
    --systems) systems=$2; shift ;;
    --mix-seconds) mix=$2; shift ;;
    --dir) dir=$2; shift ;;
    --out) out=$2; shift ;;
    --tables) tables=$2; shift ;;
    -h | --help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "bench/scaling.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

# table PHASE: a markdown row per system, a column per process count.
table() {
    local phase=$1 ps
    ps=$(ls "$out"/raw/p*.tsv | sed 's/.*\/p\([0-9]*\)\.tsv/\1/' | sort -n | tr '\n' ' ')
    echo "**$phase**, M ops/s of all processes together (medians); last column: the most ÷ 1 process"
    echo
    # shellcheck disable=SC2086
    for p in $ps; do awk -v p="$p" -v ph="$phase" -F'\t' \
        'NR > 1 && $2 == ph { print $1 "\t" p "\t" ($4 == 1 ? $5 : "failed") }' "$out/raw/p$p.tsv"; done |
        awk -F'\t' -v ps="$ps" '
            { if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } v[$1, $2] = $3 }
            END {
                np = split(ps, P, " ")
                printf "| system |"; for (j = 1; j <= np; j++) printf " %s |", P[j]; print " best ÷ 1 |"
                printf "|---|"; for (j = 1; j <= np; j++) printf "---:|"; print "---:|"
                for (i = 0; i < n; i++) {
                    s = order[i]; best = 0; printf "| %s |", s
                    for (j = 1; j <= np; j++) {
                        x = v[s, P[j]]
                        if (x == "" || x == "failed") printf " %s |", x == "" ? "-" : x
                        else { printf " %.3g |", x; if (x + 0 > best) best = x + 0 }
                    }
                    one = v[s, 1] + 0
                    if (one > 0) printf " %.1f× |\n", best / one; else print " - |"
                } }'
    echo
}

if [ -z "$tables" ]; then
    cd "$root" || exit 1
    if [ -z "${BENCH:-}" ]; then
        make -s build/shmkv-bench || exit 1
        BENCH=build/shmkv-bench
    fi
    read -r -a bench <<<"$BENCH"
    if [ -z "$systems" ]; then
        systems=shmkv
        for s in shf libshmcache lmdb; do
            "${bench[@]}" --list-systems 2>/dev/null | grep -qx "$s" && systems=$systems,$s
        done
    fi
    mkdir -p "$out/raw" || exit 1
    failed=0
    for p in ${procs//,/ }; do
        echo "== $p processes" >&2
        "${bench[@]}" --procs "$p" --keys "$keys" --runs "$runs" --mix-seconds "$mix" \
            --system "$systems" --dir "$dir" --phases put,mix,get --tsv "$out/raw/p$p.tsv" \
            >"$out/raw/p$p.txt" 2>&1 || { failed=1; echo "scaling.sh: $p processes FAILED" >&2; }
        grep -E '^[a-z-]+ +(PUT|MIX|GET) ' "$out/raw/p$p.txt" >&2
    done
    echo "bench/scaling.sh --procs $procs --keys $keys --runs $runs --systems $systems" \
         "--mix-seconds $mix --dir $dir" >"$out/raw/command.txt"
    {
        echo "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) online," \
             "$(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p') thread(s) per core," \
             "$(lscpu 2>/dev/null | sed -n 's/^Socket(s): *//p') socket(s)"
        echo "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -sr)"
        echo "- load at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
    } >"$out/raw/machine.md"
else
    out=$tables failed=0
fi

# The report: from raw/ alone, so --tables makes it again anywhere.
{
    echo "# Scaling with processes: $(head -1 "$out"/raw/p1.txt 2>/dev/null | sed 's/^# shmkv-bench: 1 procs x //')"
    echo
    echo '```sh'; cat "$out/raw/command.txt"; echo '```'; echo
    for ph in PUT MIX GET; do table "$ph"; done
    cat "$out/raw/machine.md"
} >"$out/SCALING.md"
cat "$out/SCALING.md"
exit $failed
