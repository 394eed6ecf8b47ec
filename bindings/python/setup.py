"""Builds the extension shmq._core against libshmq (metadata: pyproject.toml).

libshmq is found, in order, through $SHMQ_INCLUDE_DIR and $SHMQ_LIB_DIR (both
set), pkg-config (the shmq.pc that `cmake --install` writes), or the source
tree this directory sits in (lib/include and build/lib). The extension gets an
rpath to libshmq's directory, so it loads without LD_LIBRARY_PATH. From 3.11
on it is built against the limited API (one abi3 build for every later
CPython). Offline, with Debian's packages only:
    pip install --no-build-isolation --no-index bindings/python
"""
import glob
import os
import subprocess
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _pkg_config(*args: str) -> str:
    return subprocess.run(["pkg-config", *args, "shmq"], check=True, capture_output=True,
                          text=True).stdout.strip()


def find_libshmq() -> tuple[list[str], str]:
    """(include dirs, library dir) of libshmq, or exit naming what was tried."""
    tried = []
    inc, lib = os.environ.get("SHMQ_INCLUDE_DIR"), os.environ.get("SHMQ_LIB_DIR")
    if inc and lib:
        return [inc], lib
    tried.append("$SHMQ_INCLUDE_DIR and $SHMQ_LIB_DIR: not both set")
    try:
        incs = [f[2:] for f in _pkg_config("--cflags-only-I").split() if f.startswith("-I")]
        return incs, _pkg_config("--variable=libdir")
    except (OSError, subprocess.CalledProcessError) as e:
        tried.append(f"pkg-config shmq: {getattr(e, 'stderr', None) or e}".strip())
    tree_inc, tree_lib = os.path.join(ROOT, "lib", "include"), os.path.join(ROOT, "build", "lib")
    if os.path.exists(os.path.join(tree_inc, "shmq", "shmq.h")) and glob.glob(
            os.path.join(tree_lib, "libshmq.so*")):
        return [tree_inc], tree_lib
    tried.append(f"source tree: no {tree_inc}/shmq/shmq.h with {tree_lib}/libshmq.so")
    sys.exit("shmq: libshmq not found (install it with `cmake --install`, or set "
             "PKG_CONFIG_PATH, or SHMQ_INCLUDE_DIR and SHMQ_LIB_DIR); tried: " + "; ".join(tried))


include_dirs, lib_dir = find_libshmq()
abi3 = sys.version_info >= (3, 11)
setup(
    ext_modules=[Extension(
        "shmq._core",
        sources=sorted(glob.glob(os.path.join("src", "*.c"))),
        depends=[os.path.join("src", "core.h")],
        include_dirs=include_dirs,
        library_dirs=[lib_dir],
        runtime_library_dirs=[lib_dir],
        libraries=["shmq"],
        define_macros=[("Py_LIMITED_API", "0x030B0000")] if abi3 else [],
        py_limited_api=abi3,
    )],
    options={"bdist_wheel": {"py_limited_api": "cp311"}} if abi3 else {},
)
