#!/bin/sh
# make test-python: build the shmkv package for each Python interpreter
# and run its unittest suite (bindings/python/tests) with it.
#
#   bindings/python/run-tests.sh [PYTHON...]
#
# Interpreters: the arguments, else $PYTHONS, else "python3 /usr/bin/python3"
# (the python3 on PATH and Debian's, once each if they are the same).  Each
# gets its own build in build/python/<its path>.  The Django tests
# (test_django) run with every interpreter that has Django (Debian:
# python3-django, for /usr/bin/python3); the run fails if none has it.
# So do the near cache's tests (test_near) with redis-py (Debian:
# python3-redis), against redis-server and build/shmkv-redis (make redis).
# Last, the first interpreter with setuptools builds the package with
# setup.py (into a temporary directory) and runs test_table on that build.
# scripts/install-deps.sh python installs what this needs on Debian.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -gt 0 ] || set -- ${PYTHONS:-python3 /usr/bin/python3}

seen=" "
django_runs=0
near_runs=0
setuptools_py=
for py in "$@"; do
    real=$("$py" -c 'import os, sys; print(os.path.realpath(sys.executable))') ||
        { echo "run-tests: cannot run $py" >&2; exit 1; }
    case $seen in *" $real "*) continue ;; esac
    seen="$seen$real "
    version=$("$py" -c 'import sys; print(sys.version.split()[0])')
    out=$root/build/python/$(echo "$real" | tr -c 'A-Za-z0-9.\n' _)
    "$here/build.sh" "$py" "$out"
    modules=$(cd "$here/tests" && ls test_*.py | sed 's/\.py$//')
    if django=$("$py" -c 'import django; print(django.get_version())' 2>/dev/null); then
        what="with Django $django"
        django_runs=$((django_runs + 1))
    else
        what="without Django: test_django not run"
        modules=$(echo "$modules" | grep -v '^test_django$')
    fi
    if "$py" -c 'import redis' 2>/dev/null; then
        near_runs=$((near_runs + 1))
    else
        what="$what, without redis-py: test_near not run"
        modules=$(echo "$modules" | grep -v '^test_near$')
    fi
    echo "run-tests: $real (Python $version), $what"
    if [ -z "$setuptools_py" ] && "$py" -c 'import setuptools' 2>/dev/null; then
        setuptools_py=$py
    fi
    # From the tests' directory: the package comes from $out, never from
    # the source tree (which has no extension module).
    # shellcheck disable=SC2086
    (cd "$here/tests" && PYTHONPATH="$out" "$py" -m unittest $modules)
done
if [ -z "$setuptools_py" ]; then
    echo "run-tests: no interpreter had setuptools, so setup.py was not tried" \
         "(Debian: apt-get install python3-setuptools)" >&2
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkv-setup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "run-tests: setup.py build with $setuptools_py, then test_table on it"
"$setuptools_py" "$here/setup.py" -q build --build-base "$tmp" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; echo "run-tests: setup.py build failed" >&2; exit 1; }
(cd "$here/tests" && PYTHONPATH=$(echo "$tmp"/lib.*) "$setuptools_py" -m unittest test_table)
if [ "$django_runs" -eq 0 ]; then
    echo "run-tests: no interpreter had Django, so test_django did not run" \
         "(Debian: apt-get install python3-django)" >&2
    exit 1
fi
if [ "$near_runs" -eq 0 ]; then
    echo "run-tests: no interpreter had redis-py, so test_near did not run" \
         "(Debian: apt-get install python3-redis)" >&2
    exit 1
fi
