#!/usr/bin/env python3
"""The bindings against libshmq installed from this build into a temporary
prefix (`cmake --install`), found through its shmq.pc and loaded through an
rpath: no LD_LIBRARY_PATH, no PYTHONPATH.

  installed.py pip CMAKE BUILD_DIR [PYTHON]: `pip install --no-build-isolation
      --no-index` of bindings/python into a fresh venv of Debian's python3
      (offline), then a send / recv / ack through the installed package.
  installed.py go CMAKE BUILD_DIR GO: the Go tests built with -tags
      shmq_pkgconfig and CGO_LDFLAGS=-Wl,-rpath,<pkg-config libdir>, run
      without LD_LIBRARY_PATH (the hint of bindings/go/README.md).
ctest runs both.
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


def clean_env(work: str, pc: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (
        "PYTHONPATH", "SHMQ_PYTHON_CORE", "LD_LIBRARY_PATH", "PYTHONHOME", "CGO_LDFLAGS")}
    env.update(PKG_CONFIG_PATH=os.path.dirname(pc), SHMQ_DIR=work)
    return env


def pip(work: str, pc: str, python: str = "/usr/bin/python3") -> None:
    src, venv = os.path.join(work, "src"), os.path.join(work, "venv")
    # A copy: pip builds in the source directory, which ctest must not dirty.
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", "tests"))
    run([python, "-m", "venv", "--system-site-packages", venv])
    env = dict(clean_env(work, pc), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    vpy = os.path.join(venv, "bin", "python")
    run([vpy, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index", src],
        env=env)
    run([vpy, "-c", USE], env=env, cwd=work)


def go(work: str, pc: str, go_exe: str) -> None:
    env = clean_env(work, pc)
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "shmq"], env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    env["CGO_LDFLAGS"] = f"-Wl,-rpath,{libdir}"
    run([go_exe, "test", "-tags", "shmq_pkgconfig", "-run", "TestRoundTrip|TestRecvBatch", "./"],
        env=env, cwd=os.path.join(os.path.dirname(HERE), "go"))
    print("installed: ok: Go tests against the installed prefix without LD_LIBRARY_PATH")


def main(mode: str, cmake: str, build: str, *rest: str) -> None:
    base = os.environ.get("SHMQ_DIR")
    if base:
        os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"shmq-{mode}-", dir=base)
    try:
        prefix = os.path.join(work, "prefix")
        run([cmake, "--install", build, "--prefix", prefix], stdout=subprocess.DEVNULL)
        pc = glob.glob(os.path.join(prefix, "**", "shmq.pc"), recursive=True)
        if not pc:
            raise SystemExit("installed: FAILED: cmake --install wrote no shmq.pc")
        {"pip": pip, "go": go}[mode](work, pc[0], *rest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
