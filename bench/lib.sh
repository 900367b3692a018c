# shellcheck shell=bash disable=SC2154,SC2034  # root, out, deps, me come from the sourcing script; it reads failed, started
# lib.sh - what bench/compare.sh and bench/cache.sh share; sourced, not
# run.  The caller sets root, out, deps (1: install the peers first), me
# (its name, for messages) and, optionally, report_only (1: record the
# commands but run nothing).

# Install (unless deps=0), build the bench, check for gnuplot, make
# $out/raw; sets bench, failed, started and cmds.
bench_setup() {
    cd "$root" || exit 1
    if [ "$deps" = 1 ]; then
        ./scripts/install-deps.sh bench || exit 1
    fi
    make -s build/shmkv-bench || exit 1
    command -v gnuplot >/dev/null || { echo "$me: gnuplot not found" >&2; exit 1; }
    bench=build/shmkv-bench
    mkdir -p "$out/raw" || exit 1
    failed=0
    started=$(date +%s)
    cmds=()
}

# run NAME ARGS...: one bench run; text to raw/NAME.txt, TSV to raw/NAME.tsv.
# A failed run sets failed=1; the others go on.
run() {
    local name=$1 t0 rc
    shift
    cmds+=("$bench $* --tsv raw/$name.tsv")
    [ "${report_only:-0}" = 1 ] && return
    echo "== $name: $bench $*" >&2
    t0=$(date +%s)
    "$bench" "$@" --tsv "$out/raw/$name.tsv" | tee "$out/raw/$name.txt" >&2
    rc=${PIPESTATUS[0]}
    echo "== $name: $(( $(date +%s) - t0 )) s, exit status $rc" >&2
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "$me: $name FAILED (see $out/raw/$name.txt)" >&2
    fi
}

# The machine, as markdown list items: CPU, memory, OS, load, shmkv's commit.
machine_common() {
    local model
    model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
    echo "- CPU: ${model:-unknown}, $(nproc) cores online ($(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
    echo "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); /dev/shm: $(df -h /dev/shm | awk 'NR == 2 { print $2 }')"
    echo "- kernel: $(uname -sr); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(cc --version | head -1)"
    echo "- load when the runs ended: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
    echo "- shmkv $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"
}
