#!/bin/sh
# Install the Debian packages shmkv needs, only those that are missing.
#
#   scripts/install-deps.sh [test|bench|all|php|python|python-bench|cxx]
#                                                  (default: test)
#   scripts/install-deps.sh packages PKG...      (these, for a binding's own needs)
#
#   test   make, gcc, pkg-config, liblmdb-dev (the benchmark's LMDB peer),
#          util-linux, clang and libclang-rt-14-dev (libFuzzer, for the
#          fuzz targets: make fuzz)
#   bench  test's packages plus the benchmark's peers and plotting:
#          redis-server, libhiredis-dev, memcached, libmemcached-dev,
#          libboost-dev, g++ (Boost.Interprocess peer), gnuplot-nox (for
#          bench/compare.sh and bench/cache.sh); bench/bench.mk builds
#          each peer whose headers it finds
#   all    same as bench
#   php    the PHP extension's build, tests and benchmark (bindings/php):
#          php8.2-dev (phpize), php8.2-cli, php8.2-fpm, libfcgi-bin
#          (cgi-fcgi), php8.2-apcu (APCu, which tests and benchmark compare
#          against), make, gcc
#   packages  the Debian packages named after it
#   python        Debian's python3 with its headers, setuptools and
#                 Django, for the Python binding's tests (make test-python)
#   python-bench  the Python benchmark's peers (make bench-python):
#                 python3-lmdb, python3-diskcache, python3-redis,
#                 redis-server
#   cxx    g++ and clang++, for the C++ header's tests (make test-cxx)
#
# Quiet and quick when nothing is missing.  Otherwise runs apt-get update
# once, then apt-get install, non-interactively; needs root (or sudo without
# a password) for that, and says so clearly when it is not available.
set -eu

what=${1:-test}
case $what in
    test)      pkgs="make gcc pkg-config liblmdb-dev util-linux clang libclang-rt-14-dev" ;;
    bench|all) pkgs="make gcc pkg-config liblmdb-dev util-linux clang libclang-rt-14-dev gnuplot-nox
                     redis-server libhiredis-dev memcached libmemcached-dev
                     libboost-dev g++" ;;
    php)       pkgs="make gcc php8.2-dev php8.2-cli php8.2-fpm libfcgi-bin php8.2-apcu" ;;
    python)    pkgs="make gcc python3 python3-dev python3-setuptools python3-django" ;;
    python-bench)
               pkgs="make gcc python3 python3-dev python3-lmdb python3-diskcache
                     python3-redis redis-server" ;;
    cxx)       pkgs="make gcc g++ clang libclang-rt-14-dev" ;;
    packages)  shift; pkgs="$*" ;;
    -h|--help)
        sed -n '2,32s/^# \{0,1\}//p' "$0"
        exit 0 ;;
    *)
        echo "usage: $0 [test|bench|all|php|python|python-bench|cxx] | packages PKG..." >&2
        exit 2 ;;
esac

missing=
for p in $pkgs; do
    # dpkg -s succeeds for removed-but-configured packages too; insist on
    # "install ok installed".
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $st in
        "install ok installed") ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: apt-get not found; install them with your package manager" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: not root, so cannot install them; run as root:" >&2
    echo "    apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

echo "install-deps: installing$missing"
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
           --no-install-recommends -o Dpkg::Use-Pty=0 $missing; } >"$log" 2>&1
then
    cat "$log" >&2
    echo "install-deps: apt-get failed; packages still missing:$missing" >&2
    exit 1
fi
echo "install-deps: done"
