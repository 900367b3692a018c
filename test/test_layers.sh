#!/bin/sh
# test_layers: the library's structure holds.
#
#  1. Every file of src/ belongs to a layer, and includes only headers of
#     its own layer or below (docs/design.md, "The house"):
#       0 base     atomics format handle fault hash host lock map sleepers
#       1 storage  clock alloc index log list patch
#       2 policy   shard clean evict
#       3 api      api table write rmw lease queue wait read iterate stat check
#                  check_leaks error
#  2. No include cycle among the library's files (tsort finds none).
#  3. The archives export only the public API (shmkv_*) and internal
#     names prefixed shmkv__: a program linking libshmkv.a statically
#     cannot clash with the library's internals.
#
# Run from anywhere: finds the source tree above this script's directory
# (build/test or build/asan/test) and the archives next to the tests.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$here
while [ "$root" != / ] && [ ! -f "$root/src/format.h" ]; do root=$(dirname "$root"); done
build=$(dirname "$here")
fail=0
bad() { echo "test_layers: $*"; fail=1; }

[ -f "$root/src/format.h" ] || { echo "test_layers: cannot find src/"; exit 1; }

layer_of() {
    case $1 in
        atomics|format|handle|fault|hash|host|lock|map|sleepers) echo 0 ;;
        clock|alloc|index|log|list|patch) echo 1 ;;
        shard|clean|evict) echo 2 ;;
        api|table|write|rmw|lease|queue|wait|read|iterate|stat|check|check_leaks|error) echo 3 ;;
        *) echo x ;;
    esac
}

edges=$(mktemp) || exit 2
trap 'rm -f "$edges"' EXIT
nfiles=0
for f in "$root"/src/*.c "$root"/src/*.h; do
    m=$(basename "$f"); m=${m%.*}
    lm=$(layer_of "$m")
    nfiles=$((nfiles + 1))
    [ "$lm" = x ] && { bad "src/$(basename "$f") belongs to no layer"; continue; }
    for inc in $(sed -n 's/^#include "\(.*\)\.h"$/\1/p' "$f"); do
        [ "$inc" = shmkv ] && continue # the public header
        li=$(layer_of "$inc")
        if [ "$li" = x ]; then
            bad "src/$(basename "$f") includes $inc.h, which belongs to no layer"
        elif [ "$li" -gt "$lm" ]; then
            bad "src/$(basename "$f") (layer $lm) includes $inc.h (layer $li): an arrow pointing up"
        fi
        [ "$inc" != "$m" ] && echo "$m $inc" >>"$edges"
    done
done
[ "$nfiles" -gt 20 ] || bad "only $nfiles files found in src/"
if ! tsort "$edges" >/dev/null 2>&1; then
    bad "include cycle among the library's files:"
    tsort "$edges" 2>&1 >/dev/null | head -n 6 | sed "s/^/    /"
fi

nlibs=0
for lib in "$build/libshmkv.a" "$build/libshmkv-test.a"; do
    [ -f "$lib" ] || continue
    nlibs=$((nlibs + 1))
    syms=$(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }')
    [ -n "$syms" ] || bad "$lib exports nothing"
    echo "$syms" | grep -q '^shmkv_put$' || bad "$lib lacks shmkv_put"
    stray=$(echo "$syms" | grep -v '^shmkv_' | sort -u)
    [ -z "$stray" ] || bad "$(basename "$lib") exports names outside shmkv_*/shmkv__*: $(echo $stray)"
done
[ "$nlibs" -gt 0 ] || bad "no archive found in $build"

[ $fail -eq 0 ] && echo "test_layers: $nfiles files in 4 layers, no cycle, $nlibs archives export only shmkv_ names"
exit $fail
