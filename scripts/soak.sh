#!/bin/sh
# soak.sh [SECONDS] [KEYS] [WORKERS] - the documented soak run (not in CI).
#
# Builds test/soak/soak.c against the release library (make build/soak) and
# runs it: one table without max_bytes, KEYS pairs (default 200000), WORKERS
# processes (default: one per CPU) doing the MIX workload at full speed,
# 98% get / 2% delete+put with new random value sizes, every value read
# validated (and 16 counters that every worker increments, rewritten in
# place: a quarter of the updates, a fiftieth of the gets, which must never
# see one go back; each exact at the end), for SECONDS (default 600: the
# 10-minute soak).  Every 10 s it
# prints ops, ops/s, the file size, live and garbage bytes and the key
# count, to show the file levels off under delete+put churn; at the end
# shmkv_check and a check of every key, then one line "SOAK RESULT ...".
# Exits non-zero on any violation, a failed check, or a file that kept
# growing (by 25% or more) after the first fifth of the run.
#
# The table lives in a private directory under /dev/shm that is removed
# afterwards.  For the crash side of a long run see docs/reliability.md
# (test_torture with SHMKV_TORTURE_KILLS / SHMKV_TORTURE_SECONDS).
set -eu
secs=${1:-600}
keys=${2:-200000}
workers=${3:-$(nproc 2>/dev/null || echo 2)}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
make -s build/soak >/dev/null
echo "soak: $secs s, $keys keys, $workers workers (98% get / 2% delete+put)"
exec ./build/soak "$secs" "$keys" "$workers"
