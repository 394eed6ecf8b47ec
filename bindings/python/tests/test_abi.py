"""The ctypes structures match shmq.h: sizes and field offsets compared with
what a C compiler says (abi_dump, built by CMake; $SHMQ_ABI_DUMP names it)."""
import ctypes
import os
import subprocess
import unittest

import support  # noqa: F401  (sets up the library path)
from shmq import _lib

STRUCTS = {"shmq_params": _lib.Params, "shmq_options": _lib.Options, "shmq_iov": _lib.Iov,
           "shmq_msg": _lib.Msg, "shmq_client_stats": _lib.ClientStats,
           "shmq_stats": _lib.Stats, "shmq_recovery": _lib.Recovery}


@unittest.skipUnless(os.environ.get("SHMQ_ABI_DUMP"), "SHMQ_ABI_DUMP not set (run by ctest)")
class Abi(unittest.TestCase):
    def test_sizes_and_offsets_match_the_header(self):
        out = subprocess.run([os.environ["SHMQ_ABI_DUMP"]], check=True, capture_output=True,
                             text=True).stdout
        checked = 0
        for line in out.splitlines():
            struct, field, value = line.split()
            cls = STRUCTS[struct]
            got = ctypes.sizeof(cls) if field == "-" else getattr(cls, field).offset
            self.assertEqual(got, int(value), f"{struct}.{field}")
            checked += 1
        self.assertGreater(checked, 20)


if __name__ == "__main__":
    unittest.main()
