#!/usr/bin/env bash
# Install what shmq needs to build and test, from Debian 12's archive only.
# Cheap and quiet when nothing is missing: each package is probed by a file
# it installs (no package manager call); only if a probe fails does dpkg say
# what is missing and apt-get install it (needs root or sudo).
set -euo pipefail

# package -> a file it installs
declare -A probe=(
  [build-essential]=/usr/share/build-essential/essential-packages-list
  [cmake]=/usr/bin/cmake
  [ninja-build]=/usr/bin/ninja
  [pkg-config]=/usr/bin/pkg-config
  [libboost1.81-dev]=/usr/include/boost/version.hpp
  [libspdlog-dev]=/usr/include/spdlog/spdlog.h
  [doctest-dev]=/usr/include/doctest/doctest.h
  [libtomlplusplus-dev]=/usr/include/toml++/toml.h
  [libcli11-dev]=/usr/include/CLI/CLI.hpp
  [nlohmann-json3-dev]=/usr/include/nlohmann/json.hpp
  [libmicrohttpd-dev]=/usr/include/microhttpd.h
  [curl]=/usr/bin/curl
  [jq]=/usr/bin/jq
  [nodejs]=/usr/bin/node
  [wrk]=/usr/bin/wrk
  [gnuplot-nox]=/usr/bin/gnuplot
  [python3]=/usr/bin/python3
  [golang-go]=/usr/bin/go
  [clang]=/usr/bin/clang
  [libclang-rt-14-dev]=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
  [librabbitmq-dev]=/usr/include/amqp.h
  [libssl-dev]=/usr/include/openssl/err.h
  [rabbitmq-server]=/usr/lib/rabbitmq/bin/rabbitmq-server
  [openssl]=/usr/bin/openssl
  [prometheus]=/usr/bin/promtool
  [python3-dev]=/usr/include/python3.11/Python.h
  [python3-setuptools]=/usr/lib/python3/dist-packages/setuptools/__init__.py
  [python3-wheel]=/usr/lib/python3/dist-packages/wheel/__init__.py
  [python3-pip]=/usr/lib/python3/dist-packages/pip/__init__.py
  [python3-venv]=/usr/share/doc/python3-venv/copyright
)

suspect=()
for p in "${!probe[@]}"; do
  [ -e "${probe[$p]}" ] || suspect+=("$p")
done
[ ${#suspect[@]} -eq 0 ] && exit 0

# A probe failed: ask dpkg (a file may have moved in a point release).
missing=()
for p in "${suspect[@]}"; do
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
# The same for prometheus, installed only for promtool (the alert rules test).
if [[ " ${missing[*]} " == *" rabbitmq-server "* || " ${missing[*]} " == *" prometheus "* ]] &&
  [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
