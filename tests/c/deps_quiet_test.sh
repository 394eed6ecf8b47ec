#!/bin/sh
# scripts/deps.sh on a machine that has everything: no package manager call
# (dpkg-query, apt-get, sudo are shadowed by recorders) and no output.
# Usage: deps_quiet_test.sh SOURCE_DIR
set -eu
src=$1
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
for tool in dpkg-query dpkg apt-get apt sudo; do
  printf '#!/bin/sh\necho %s >>"%s/calls"\n' "$tool" "$fake" >"$fake/$tool"
  chmod +x "$fake/$tool"
done
out=$(PATH="$fake:$PATH" bash "$src/scripts/deps.sh" 2>&1)
if [ -f "$fake/calls" ]; then echo "deps.sh called: $(tr '\n' ' ' <"$fake/calls")"; exit 1; fi
if [ -n "$out" ]; then echo "deps.sh printed: $out"; exit 1; fi
echo "deps.sh: nothing missing, no package manager call, no output"
