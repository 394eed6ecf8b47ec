#!/usr/bin/env bash
# Install what shmq needs to build and test, from Debian 12's archive only.
# Idempotent: installs only packages that are missing; needs root or sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libspdlog-dev doctest-dev libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev gnuplot-nox python3 golang-go clang libclang-rt-14-dev
  librabbitmq-dev rabbitmq-server
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
# rabbitmq-server's postinst starts a system broker (5672), and a broker that
# fails to start there fails the install. The bridge tests run a private node
# of their own (tests/bridge/broker.sh), so keep the service from starting
# during the install, as Debian's container images do (policy-rc.d, exit 101).
if [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
