#!/usr/bin/env bash
# Install the built library into a scratch prefix, then build a C11 program
# against it twice, as users do: with pkg-config, and with find_package(shmq).
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(find "$tmp/prefix" -name shmq.pc -printf '%h\n' | head -1)
export PKG_CONFIG_PATH="$libdir" LD_LIBRARY_PATH="$(dirname "$libdir")" SHMQ_DIR="$tmp"
cc -std=c11 -Wall -Wextra -Werror "$src/tests/c/c11_million.c" $(pkg-config --cflags --libs shmq) -o "$tmp/via_pkgconfig"
"$tmp/via_pkgconfig"
cmake -S "$src/tests/c/find_package" -B "$tmp/fp" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/fp" >/dev/null
"$tmp/fp/c11_million"
echo "install_test: pkg-config and find_package builds both passed"
