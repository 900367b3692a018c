#!/bin/sh
# Build the shmkv Python package for one interpreter with a plain compiler
# call (no setuptools needed): the extension shmkv/_shmkv*.so, linked with
# the library's static archive, next to a copy of the package's Python
# files.  `make python` runs it; setup.py is the other way to build it.
#
#   bindings/python/build.sh PYTHON OUTDIR [ARCHIVE]
#
# PYTHON: the interpreter to build for (its headers and extension suffix
# come from its own sysconfig); OUTDIR: where the package goes
# (OUTDIR/shmkv, importable with PYTHONPATH=OUTDIR); ARCHIVE: the library
# (default build/libshmkv.a, from `make lib`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${1:?usage: build.sh PYTHON OUTDIR [ARCHIVE]}
out=${2:?usage: build.sh PYTHON OUTDIR [ARCHIVE]}
archive=${3:-$root/build/libshmkv.a}
cc=${CC:-cc}

[ -f "$archive" ] || { echo "build.sh: $archive missing (make lib)" >&2; exit 1; }
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suffix=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
[ -f "$inc/Python.h" ] || {
    echo "build.sh: $inc/Python.h missing: the headers of $py are not installed" \
         "(Debian: apt-get install python3-dev)" >&2
    exit 1
}

mkdir -p "$out/shmkv"
# -isystem: the warnings are for our code, not Python's headers.  The
# library's symbols stay inside the extension (--exclude-libs), so it
# cannot clash with a libshmkv.so loaded by something else.
# shellcheck disable=SC2086
"$cc" -std=c11 -D_GNU_SOURCE -fPIC -shared -pthread -O2 -g ${CFLAGS:-} \
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wpointer-arith -Wformat=2 -fvisibility=hidden \
    -isystem "$inc" -I"$root/include" "$here"/src/*.c "$archive" \
    -Wl,--exclude-libs,ALL -o "$out/shmkv/_shmkv$suffix.tmp"
mv "$out/shmkv/_shmkv$suffix.tmp" "$out/shmkv/_shmkv$suffix"
cp "$here"/shmkv/*.py "$here"/shmkv/*.pyi "$here"/shmkv/py.typed "$out/shmkv/"
