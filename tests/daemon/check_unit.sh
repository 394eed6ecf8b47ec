#!/bin/sh
# The generated systemd unit: ExecStart follows the install prefix, the unit
# passes `systemd-analyze verify`, and `systemd-analyze security` rates it
# 3.0 or better. Skipped (exit 77) without systemd-analyze.
# Usage: check_unit.sh UNIT SHMQD_BINARY EXPECTED_SBINDIR
set -eu
unit=$1 binary=$2 sbindir=$3
grep -q "^ExecStart=$sbindir/shmqd " "$unit" || { echo "ExecStart does not use $sbindir:"; grep ExecStart "$unit"; exit 1; }
if grep -q "@[A-Z_]*@" "$unit"; then echo "unsubstituted @VAR@ in $unit"; exit 1; fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze not installed (package systemd)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# verify wants the binary to exist: point ExecStart at the one just built.
sed "s|^ExecStart=[^ ]*|ExecStart=$binary|" "$unit" >"$dir/shmqd.service"
out=$(cd "$dir" && systemd-analyze verify ./shmqd.service 2>&1) || { echo "verify failed: $out"; exit 1; }
if [ -n "$out" ]; then echo "verify complained: $out"; exit 1; fi
level=$(cd "$dir" && systemd-analyze security --offline=true ./shmqd.service 2>&1 |
  sed -n 's/.*Overall exposure level for shmqd.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || { echo "no exposure level from systemd-analyze security"; exit 1; }
echo "exposure level $level (3.0 or better required)"
awk -v l="$level" 'BEGIN { exit !(l <= 3.0) }'
