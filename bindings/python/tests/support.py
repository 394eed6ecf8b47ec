"""Shared test helpers: a private SHMQ_DIR, unique queue names, a queue
fixture, condition waits with deadlines, and child processes.

Importing this module points SHMQ_DIR at a fresh private directory (inside
the SHMQ_DIR ctest gives, or the system temp dir) and removes it at exit.
"""
from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
sys.path.insert(0, PACKAGE_ROOT)

if os.environ.get("SHMQ_DIR") and os.environ.get("SHMQ_TEST_PRIVATE_DIR") == os.environ["SHMQ_DIR"]:
    SHMQ_DIR = os.environ["SHMQ_DIR"]  # a child (multiprocessing spawn) of a test process
else:
    _base = os.environ.get("SHMQ_DIR") or tempfile.gettempdir()
    os.makedirs(_base, exist_ok=True)
    SHMQ_DIR = tempfile.mkdtemp(prefix="shmq-py-", dir=_base)
    os.environ["SHMQ_DIR"] = os.environ["SHMQ_TEST_PRIVATE_DIR"] = SHMQ_DIR
    atexit.register(shutil.rmtree, SHMQ_DIR, True)

import shmq  # noqa: E402  (after SHMQ_DIR is set)

_names = itertools.count()


def unique_name(tag: str = "q") -> str:
    return f"py{os.getpid()}.{next(_names)}.{tag}"


def segment_path(name: str) -> str:
    return os.path.join(SHMQ_DIR, "shmq." + name)


def wait_until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` until it holds; fail the test if ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


def child(*args: str, stdout: Optional[int] = subprocess.PIPE,
          stdin: Optional[int] = None) -> subprocess.Popen:
    """Start tests/child.py with ``args`` in a new Python process."""
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    return subprocess.Popen([sys.executable, os.path.join(HERE, "child.py"), *args],
                            env=env, stdout=stdout, stdin=stdin, text=True)


def read_line(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """One line of a child's stdout, failing the test after ``timeout``."""
    import selectors
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError("child printed nothing in time")
    return proc.stdout.readline().strip()


class QueueTest(unittest.TestCase):
    """Gives each test a fresh queue ``self.q`` (``self.name``) made with
    ``create_args``; closes and unlinks it afterwards."""

    create_args: dict = {"slot_size": 256, "slot_count": 64, "backoff_base": 0}

    def setUp(self) -> None:
        self.name = unique_name(self._testMethodName[5:20])
        self.q = shmq.Queue.create(self.name, **self.create_args)
        self.addCleanup(self._remove)

    def _remove(self) -> None:
        self.q.close()
        try:
            shmq.unlink(self.name)
        except shmq.NotFound:
            pass
