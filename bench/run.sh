#!/usr/bin/env bash
# run.sh - runs shmq_bench (it builds nothing) and draws the plots with gnuplot.
# Usage: bench/run.sh [--short] [--out DIR] [PATH/TO/shmq_bench] [other shmq_bench options]
# Without a binary path it uses $SHMQ_BENCH or build/bench/shmq_bench. Results go
# to bench/results/ unless --out says otherwise. Exits with shmq_bench's status.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin="${SHMQ_BENCH:-}"
out="$here/results"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) if [ -z "${bin}" ] && [ -f "$1" ] && [ -x "$1" ]; then bin="$1"; else args+=("$1"); fi; shift ;;
    esac
done
if [ -z "$bin" ]; then bin="$root/build/bench/shmq_bench"; fi
if [ ! -x "$bin" ]; then
    echo "run.sh: no shmq_bench at $bin; build it first:" >&2
    echo "  cmake -B build -DSHMQ_BUILD_BENCH=ON && cmake --build build" >&2
    exit 2
fi

mkdir -p "$out"
rm -f "$out"/*.png "$out"/*.dat
"$bin" --out "$out" "${args[@]}"
status=$?

if command -v gnuplot >/dev/null; then
    if ! gnuplot -e "dir='$out'" "$here/plot.gp"; then
        echo "run.sh: gnuplot failed" >&2
        [ "$status" -eq 0 ] && status=1
    fi
else
    echo "run.sh: gnuplot not found, no plots drawn" >&2
fi
echo "run.sh: results in $out (results.md, results.json, *.png)" >&2
exit "$status"
