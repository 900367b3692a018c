#!/usr/bin/env bash
# Install shmkv into a temporary prefix and build a small program against the
# installed header and library through pkg-config: once linked to the shared
# library (run with LD_LIBRARY_PATH) and once statically (pkg-config --static,
# cc -static); and a C++ one with the installed shmkv.hpp.  Then checks the
# installed files and uninstalls.
#
#   scripts/test-install.sh [BUILD_DIR]      (default: build)
#
# Exits 0 when everything worked, non-zero (with a message) otherwise.
set -euo pipefail
# (greps below read all their input, never -q: with pipefail an early
# exit would kill the writer with SIGPIPE and fail the pipeline at random)
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${1:-build}
CC=${CC:-cc}
make=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkv-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
step() { echo "test-install: $*"; }

command -v pkg-config >/dev/null || fail "pkg-config not found (scripts/install-deps.sh test)"

# A sub-make must not inherit the caller's SAN=... or -j jobserver
# through MAKEFLAGS; BUILD is passed explicitly.
step "make install PREFIX=$prefix (BUILD=$build)"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    "$make" --no-print-directory -s install BUILD="$build" PREFIX="$prefix" \
    >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log" >&2; fail "make install"; }

version=$(sed -n 's/^#define SHMKV_VERSION_STRING "\(.*\)"/\1/p' include/shmkv.h)
for f in include/shmkv.h include/shmkv.hpp include/shmkv_lists.hpp lib/libshmkv.a "lib/libshmkv.so.$version" \
         lib/libshmkv.so.0 lib/libshmkv.so lib/pkgconfig/shmkv.pc; do
    [ -e "$prefix/$f" ] || fail "$prefix/$f not installed"
done

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
pcver=$(pkg-config --modversion shmkv) || fail "pkg-config cannot read shmkv.pc"
[ "$pcver" = "$version" ] || fail "shmkv.pc says version $pcver, header $version"
pkg-config --cflags shmkv | grep -- "-I$prefix/include" >/dev/null ||
    fail "pkg-config --cflags lacks -I$prefix/include"
pkg-config --libs shmkv | grep -- "-L$prefix/lib" >/dev/null ||
    fail "pkg-config --libs lacks -L$prefix/lib"

soname=$(LC_ALL=C readelf -d "$prefix/lib/libshmkv.so" 2>/dev/null |
         sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libshmkv.so.0 ] || fail "SONAME is '$soname', expected libshmkv.so.0"

# The shared library exports the API and nothing else.
extra=$(nm -D --defined-only "$prefix/lib/libshmkv.so" | awk '{print $NF}' |
        grep -v '^shmkv_' | grep -v '^_' || true)
# shellcheck disable=SC2086
[ -z "$extra" ] || fail "libshmkv.so exports symbols outside shmkv_*: $(printf "%s " $extra)"
for sym in shmkv_open shmkv_close shmkv_unlink shmkv_put shmkv_add \
           shmkv_replace shmkv_get shmkv_get_alloc shmkv_del shmkv_foreach \
           shmkv_count shmkv_stat shmkv_strerror; do
    nm -D --defined-only "$prefix/lib/libshmkv.so" | grep " T $sym\$" >/dev/null ||
        fail "libshmkv.so does not export $sym"
done

cat >"$tmp/app.c" <<'APP'
#include <shmkv.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "install-test";
    shmkv_options o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKV_CREATE | SHMKV_EXCL;
    shmkv *db;
    int rc = shmkv_open(name, &o, &db);
    if (rc) { fprintf(stderr, "open: %s\n", shmkv_strerror(rc)); return 1; }
    for (int i = 0; i < 1000; i++) {
        char k[32], v[32];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        int vl = snprintf(v, sizeof v, "value-%d", i * 7);
        if ((rc = shmkv_put(db, k, (size_t)kl, v, (size_t)vl))) {
            fprintf(stderr, "put: %s\n", shmkv_strerror(rc)); return 1;
        }
    }
    for (int i = 0; i < 1000; i++) {
        char k[32], v[32], buf[64];
        size_t len;
        int kl = snprintf(k, sizeof k, "key-%d", i);
        int vl = snprintf(v, sizeof v, "value-%d", i * 7);
        rc = shmkv_get(db, k, (size_t)kl, buf, sizeof buf, &len);
        if (rc || len != (size_t)vl || memcmp(buf, v, len)) {
            fprintf(stderr, "get %s: %s\n", k, shmkv_strerror(rc)); return 1;
        }
    }
    size_t len;
    if (shmkv_get(db, "nope", 4, NULL, 0, &len) != -ENOENT) {
        fprintf(stderr, "get of an absent key is not -ENOENT\n"); return 1;
    }
    shmkv_stats st;
    if (shmkv_stat(db, &st) || st.keys != 1000 || shmkv_count(db) != 1000) {
        fprintf(stderr, "stat/count do not say 1000 keys\n"); return 1;
    }
    shmkv_close(db);
    if ((rc = shmkv_unlink(name))) {
        fprintf(stderr, "unlink: %s\n", shmkv_strerror(rc)); return 1;
    }
    printf("ok: shmkv %s, 1000 pairs, %llu file bytes\n", SHMKV_VERSION_STRING,
           (unsigned long long)st.file_bytes);
    return 0;
}
APP

export SHMKV_DIR=$tmp/tables
mkdir -p "$SHMKV_DIR"

# shared
step "shared: $CC app.c \$(pkg-config --cflags --libs shmkv)"
# shellcheck disable=SC2046
"$CC" -std=c11 -Wall -Wextra -Werror -o "$tmp/app-shared" "$tmp/app.c" \
    $(pkg-config --cflags --libs shmkv) || fail "shared build"
LC_ALL=C readelf -d "$tmp/app-shared" | grep 'NEEDED.*libshmkv\.so\.0' >/dev/null ||
    fail "app-shared is not linked to libshmkv.so.0"
LD_LIBRARY_PATH=$prefix/lib "$tmp/app-shared" shared || fail "shared app failed"
LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/app-shared" | grep "$prefix/lib/libshmkv.so.0" >/dev/null ||
    fail "app-shared did not load the installed libshmkv.so.0"

# static
step "static: $CC -static app.c \$(pkg-config --static --cflags --libs shmkv)"
# shellcheck disable=SC2046
"$CC" -std=c11 -Wall -Wextra -Werror -static -o "$tmp/app-static" "$tmp/app.c" \
    $(pkg-config --static --cflags --libs shmkv) 2>"$tmp/static.log" ||
    { cat "$tmp/static.log" >&2; fail "static build"; }
if LC_ALL=C readelf -d "$tmp/app-static" 2>/dev/null | grep NEEDED >/dev/null; then
    fail "app-static has dynamic dependencies"
fi
"$tmp/app-static" static || fail "static app failed"

# C++: the installed one-header interface, through the same pkg-config
cxx=${CXX:-$(command -v c++ || command -v g++ || command -v clang++ || true)}
[ -n "$cxx" ] || fail "no C++ compiler (scripts/install-deps.sh cxx)"
cat >"$tmp/app.cpp" <<'APP'
#include <shmkv.hpp>

#include <iostream>

int main()
{
    shmkv::table t("install-test-cxx");
    t.set("k", "v");
    t.push("q", "e");
    bool ok = t.get("k") == std::string("v") && t.incr("n", 5) == 5 && t.pop("q") == std::string("e") &&
              t.size() == 3;
    t.close();
    shmkv::table::unlink("install-test-cxx");
    std::cout << (ok ? "ok: C++\n" : "wrong values\n");
    return ok ? 0 : 1;
}
APP
step "c++: $cxx -std=c++17 app.cpp \$(pkg-config --cflags --libs shmkv)"
# shellcheck disable=SC2046
"$cxx" -std=c++17 -Wall -Wextra -Werror -o "$tmp/app-cxx" "$tmp/app.cpp" \
    $(pkg-config --cflags --libs shmkv) || fail "C++ build"
LD_LIBRARY_PATH=$prefix/lib "$tmp/app-cxx" || fail "C++ app failed"

[ -z "$(ls -A "$SHMKV_DIR")" ] || fail "tables left behind: $(ls -A "$SHMKV_DIR")"

step "make uninstall"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    "$make" --no-print-directory -s uninstall BUILD="$build" PREFIX="$prefix" \
    >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log" >&2; fail "make uninstall"; }
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "left after uninstall: $left"

echo "test-install: PASS"
