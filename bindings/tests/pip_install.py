#!/usr/bin/env python3
"""Offline install test: `pip install --no-build-isolation --no-index` of
bindings/python into a fresh venv of Debian's python3, against libshmq
installed from this build into a temporary prefix (found through its shmq.pc,
loaded through the extension's rpath: no LD_LIBRARY_PATH, no PYTHONPATH),
then a send / recv / ack through the installed package.

Usage: pip_install.py CMAKE BUILD_DIR [PYTHON]; ctest runs it.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "python")

USE = r"""
import os, sys, shmq
core = sys.modules["shmq._core"].__file__
assert core.startswith(sys.prefix), f"extension loaded from {core}, not the venv"
name = f"pip{os.getpid()}"
with shmq.Queue.create(name, slot_size=64, slot_count=4) as q:
    q.send(b"installed")
    msg = q.recv(timeout=5)
    assert msg.data == b"installed", msg.data
    msg.ack()
    assert q.stats().acked == 1
shmq.unlink(name)
print("pip_install: ok: send/recv/ack through", core)
"""


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def main(cmake: str, build: str, python: str = "/usr/bin/python3") -> None:
    base = os.environ.get("SHMQ_DIR")
    if base:
        os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="shmq-pip-", dir=base)
    try:
        prefix, src, venv = (os.path.join(work, d) for d in ("prefix", "src", "venv"))
        run([cmake, "--install", build, "--prefix", prefix], stdout=subprocess.DEVNULL)
        pc = glob.glob(os.path.join(prefix, "**", "shmq.pc"), recursive=True)
        if not pc:
            raise SystemExit("pip_install: FAILED: cmake --install wrote no shmq.pc")
        # A copy: pip builds in the source directory, which ctest must not dirty.
        shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns(
            "build", "*.egg-info", "__pycache__", "tests"))
        run([python, "-m", "venv", "--system-site-packages", venv])
        env = {k: v for k, v in os.environ.items() if k not in (
            "PYTHONPATH", "SHMQ_PYTHON_CORE", "LD_LIBRARY_PATH", "PYTHONHOME")}
        env.update(PKG_CONFIG_PATH=os.path.dirname(pc[0]), PIP_NO_INDEX="1",
                   PIP_DISABLE_PIP_VERSION_CHECK="1", SHMQ_DIR=work)
        vpy = os.path.join(venv, "bin", "python")
        run([vpy, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index", src],
            env=env)
        run([vpy, "-c", USE], env=env, cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
