#!/bin/sh
# The example alert rules pass `promtool check rules`. Skipped (exit 77) when
# promtool is not installed: Debian's `prometheus` package (about 96 MB) is
# not in scripts/deps.sh.
set -eu
if ! command -v promtool >/dev/null 2>&1; then
  echo "skipped: promtool not installed (Debian package prometheus)"
  exit 77
fi
exec promtool check rules "$1"
