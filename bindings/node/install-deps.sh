#!/bin/sh
# Install what the Node.js addon needs to build and test, only what is
# missing (Debian packages, through scripts/install-deps.sh):
#
#   - node and npm: Debian's nodejs, npm and libnode-dev (Node's headers)
#     only when there is no node at all.  A node installed otherwise
#     (NodeSource, nvm, a tarball) is used as it is: they ship the headers
#     beside it; Debian's own node gets libnode-dev when they are missing.
#   - what node-gyp runs: g++, make, python3.
#
# npm packages (node-addon-api) come with `npm install` (make node).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)

pkgs="g++ make python3"
if ! command -v node >/dev/null 2>&1; then
    pkgs="$pkgs nodejs npm libnode-dev"
else
    prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    if [ ! -f "$prefix/include/node/node_api.h" ] && [ "$prefix" = /usr ]; then
        pkgs="$pkgs libnode-dev"
    fi
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
fi
# shellcheck disable=SC2086
exec "$root/scripts/install-deps.sh" packages $pkgs
