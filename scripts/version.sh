#!/usr/bin/env bash
# Set shmq's version everywhere it is written: CMakeLists.txt's project() (the
# one place the build takes it from) and the copies checked against it when
# configuring (cmake/version_check.cmake).
# Usage: scripts/version.sh MAJOR.MINOR.PATCH
set -euo pipefail
cd "$(dirname "$0")/.."
v="${1:-}"
if ! [[ "$v" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "usage: scripts/version.sh MAJOR.MINOR.PATCH (got '$v')" >&2
  exit 2
fi
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} patch=${BASH_REMATCH[3]}
sed -i -E "s/^project\(shmq VERSION [0-9.]+ /project(shmq VERSION $v /" CMakeLists.txt
sed -i -E "s/^#define SHMQ_VERSION_MAJOR [0-9]+/#define SHMQ_VERSION_MAJOR $major/;
           s/^#define SHMQ_VERSION_MINOR [0-9]+/#define SHMQ_VERSION_MINOR $minor/;
           s/^#define SHMQ_VERSION_PATCH [0-9]+/#define SHMQ_VERSION_PATCH $patch/" lib/include/shmq/shmq.h
sed -i -E "s/^version = \"[0-9.]+\"/version = \"$v\"/" bindings/python/pyproject.toml
sed -i -E "s/^__version__ = \"[0-9.]+\"/__version__ = \"$v\"/" bindings/python/shmq/__init__.py
sed -i -E "s/^const Version = \"[0-9.]+\"/const Version = \"$v\"/" bindings/go/version.go
echo "version $v written; the layout version (lib/src/layout.hpp) is separate: bump it when the segment changes"
