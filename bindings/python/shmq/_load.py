"""Finding the compiled part of the binding, shmq._core.

In order: the package itself (where pip installs it), then $SHMQ_PYTHON_CORE
(the path of a built _core*.so, or a directory holding one; ctest sets it),
then build/bindings/python/ of the source tree this package sits in (what
scripts/build.sh makes). The extension is linked against libshmq, which the
dynamic linker finds through the extension's rpath (set at build time), or
the system's library path. The ImportError names every place tried and why.
"""
from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType

_NAME = "shmq._core"


def _from_file(path: str) -> ModuleType:
    loader = importlib.machinery.ExtensionFileLoader(_NAME, path)
    spec = importlib.util.spec_from_file_location(_NAME, path, loader=loader)
    if spec is None:
        raise ImportError(f"not an extension module: {path}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[_NAME] = module
    return module


def _files_in(directory: str) -> list[str]:
    return sorted(glob.glob(os.path.join(directory, "_core.*so")))


def _candidates() -> list[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    found = _files_in(here) or [os.path.join(here, "_core.abi3.so")]
    explicit = os.environ.get("SHMQ_PYTHON_CORE")
    if explicit:
        found += _files_in(explicit) if os.path.isdir(explicit) else [explicit]
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    found += _files_in(os.path.join(repo, "build", "bindings", "python")) or [
        os.path.join(repo, "build", "bindings", "python", "_core.abi3.so")]
    return found


def load() -> ModuleType:
    tried = []
    for path in _candidates():
        if not os.path.exists(path):
            tried.append(f"{path}: no such file")
            continue
        try:
            return _from_file(path)
        except ImportError as e:
            tried.append(f"{path}: {e}")
    raise ImportError("shmq: cannot load the compiled extension shmq._core (install the package "
                      "with pip, or build the source tree with CMake, or set SHMQ_PYTHON_CORE to "
                      "the built _core*.so); tried: " + "; ".join(tried))


core = load()
