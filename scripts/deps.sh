#!/usr/bin/env bash
# Install what shmq needs to build and test, from Debian 12's archive only.
# Idempotent: installs only packages that are missing; needs root or sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libspdlog-dev doctest-dev libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev gnuplot-nox python3 python3-dev python3-setuptools python3-wheel
  python3-pip python3-venv golang-go clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
