"""Finding the compiled extension: import shmq fails with an ImportError
that names every place it looked, and loads from $SHMQ_PYTHON_CORE."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import support
import shmq


def import_shmq(package_parent, core):
    env = dict(os.environ, PYTHONPATH=package_parent, SHMQ_PYTHON_CORE=core)
    return subprocess.run([sys.executable, "-c", "import shmq, sys; print(sys.modules['shmq._core'].__file__)"],
                          env=env, cwd=package_parent, capture_output=True, text=True, timeout=60)


class Load(unittest.TestCase):
    def setUp(self):
        # A copy of the package outside the source tree: no _core inside, no build/ around.
        self.tmp = tempfile.mkdtemp(prefix="shmq-load-", dir=support.SHMQ_DIR)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        shutil.copytree(os.path.join(support.PACKAGE_ROOT, "shmq"), os.path.join(self.tmp, "shmq"),
                        ignore=shutil.ignore_patterns("_core*", "__pycache__"))

    def test_import_error_names_every_place(self):
        missing = os.path.join(self.tmp, "nowhere", "_core.abi3.so")
        r = import_shmq(self.tmp, missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError: shmq: cannot load the compiled extension", r.stderr)
        self.assertIn(f"{os.path.join(self.tmp, 'shmq', '_core.abi3.so')}: no such file", r.stderr)
        self.assertIn(f"{missing}: no such file", r.stderr)
        self.assertIn(os.path.join("build", "bindings", "python"), r.stderr)

    def test_loads_the_extension_named_by_the_environment(self):
        core = sys.modules["shmq._core"].__file__
        r = import_shmq(self.tmp, core)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), core)
        self.assertIs(shmq.Message, sys.modules["shmq._core"].Message)


if __name__ == "__main__":
    unittest.main()
