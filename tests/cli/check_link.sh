#!/bin/sh
# shmqctl links the shared part of the daemon tree (shmqd_common, the store,
# the core) and nothing of the daemon itself: its link line names no spdlog
# or fmt, no toml++ library (the config parser uses toml++ header-only) and
# not shmqd_core (the HTTP server, the supervision loop); the binary holds no
# such code either.
# Usage: check_link.sh SHMQCTL BUILD_DIR
set -eu
bin=$1 build=$2
if [ -f "$build/build.ninja" ]; then
  line=$(ninja -C "$build" -t commands daemon/shmqctl/shmqctl | tail -n 1)
else
  line=$(cat "$build/daemon/shmqctl/CMakeFiles/shmqctl.dir/link.txt")
fi
case "$line" in *shmqctl*) ;; *) echo "no link line for shmqctl found"; exit 1 ;; esac
bad=$(printf '%s\n' $line | grep -E 'spdlog|libfmt|toml|shmqd_core|microhttpd' || true)
if [ -n "$bad" ]; then echo "shmqctl's link line names daemon libraries:"; echo "$bad"; exit 1; fi
bad=$(ldd "$bin" | grep -E 'spdlog|libfmt|tomlplusplus|microhttpd' || true)
if [ -n "$bad" ]; then echo "shmqctl loads daemon libraries:"; echo "$bad"; exit 1; fi
syms=$(nm -C "$bin" | grep -E 'spdlog::|shmqd::HttpServer::|shmqd::Daemon::|shmqd::tick_queue' | head -5 || true)
if [ -n "$syms" ]; then echo "shmqctl contains daemon code:"; echo "$syms"; exit 1; fi
nm -C "$bin" | grep -q 'shmqd::ops::redrive' || { echo "shmqctl lacks shmqd::ops (wrong binary?)"; exit 1; }
echo "shmqctl links: $(printf '%s\n' $line | grep -E '\.(a|so)' | tr '\n' ' ')"
