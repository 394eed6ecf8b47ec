"""Loading libshmq and declaring its C API for ctypes.

The structures below mirror lib/include/shmq/shmq.h field for field; the
struct_size that shmq_params_init/shmq_options_init write is checked against
ctypes.sizeof at import, so a header/binding mismatch fails loudly here.
Every function is called through ctypes.CDLL, which releases the GIL for the
duration of each call (blocking receives do not stall other threads).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import POINTER, Structure, c_char, c_char_p, c_int, c_int32, c_int64, c_size_t
from ctypes import c_uint32, c_uint64, c_void_p

FOREVER = -1
_SUPPORTED_MAJOR_MINOR = (0, 2)


class Params(Structure):
    _fields_ = [(n, c_uint32) for n in (
        "struct_size", "slot_size", "slot_count", "max_clients", "lease_ms", "max_attempts",
        "backoff_base_ms", "backoff_cap_ms", "jitter", "overflow", "mode")]


class Options(Structure):
    _fields_ = [("struct_size", c_uint32), ("prefetch", c_uint32), ("spin_ns", c_uint32)]


class Iov(Structure):
    _fields_ = [("data", c_void_p), ("len", c_size_t)]


class Msg(Structure):
    # data is POINTER(c_char), not c_void_p: data[:len] copies the payload to
    # bytes three times faster than ctypes.string_at.
    _fields_ = [("data", POINTER(c_char)), ("len", c_size_t), ("id", c_uint64), ("attempt", c_uint32),
                ("lease_ms", c_uint32), ("enqueued_ns", c_int64), ("receipt", c_uint64 * 2)]


class ClientStats(Structure):
    _fields_ = [("pid", c_int32), ("role", c_uint32), ("prefetch", c_uint32), ("leased", c_uint32),
                ("alive", c_int32), ("sleeping", c_uint32), ("sent", c_uint64),
                ("delivered", c_uint64), ("acked", c_uint64), ("nacked", c_uint64),
                ("rejected", c_uint64), ("attached_ns", c_int64)]


class Stats(Structure):
    _fields_ = [("struct_size", c_uint32), ("slot_count", c_uint32)] + [
        (n, c_uint64) for n in ("free", "writing", "ready", "leased", "delayed", "dead")] + [
        ("oldest_ready_age_ns", c_int64)] + [
        (n, c_uint64) for n in ("enqueued", "delivered", "acked", "nacked", "rejected",
                                "redelivered", "reclaimed", "dead_lettered")] + [
        ("clients", c_uint32), ("clients_max", c_uint32), ("daemon_heartbeat_age_ns", c_int64),
        ("client", POINTER(ClientStats)), ("client_cap", c_size_t), ("spilled", c_uint64)]


class Recovery(Structure):
    _fields_ = [(n, c_uint32) for n in (
        "dead_clients", "leases_reclaimed", "writes_reclaimed", "delayed_promoted",
        "dead_lettered", "republished")]


_PROTOTYPES = {
    # name: (restype, argtypes); handles are plain c_void_p.
    "shmq_version": (c_uint32, []),
    "shmq_strerror": (c_char_p, [c_int]),
    "shmq_params_init": (None, [POINTER(Params)]),
    "shmq_options_init": (None, [POINTER(Options)]),
    "shmq_create": (c_int, [c_char_p, POINTER(Params), POINTER(Options), POINTER(c_void_p)]),
    "shmq_open": (c_int, [c_char_p, POINTER(Options), POINTER(c_void_p)]),
    "shmq_close": (None, [c_void_p]),
    "shmq_unlink": (c_int, [c_char_p]),
    "shmq_get_params": (c_int, [c_void_p, POINTER(Params)]),
    "shmq_send": (c_int, [c_void_p, c_void_p, c_size_t, c_int64]),
    "shmq_send_batch": (c_int, [c_void_p, POINTER(Iov), c_size_t, POINTER(c_size_t), c_int64]),
    "shmq_recv": (c_int, [c_void_p, POINTER(Msg), c_int64]),
    "shmq_ack": (c_int, [c_void_p, POINTER(Msg)]),
    "shmq_nack": (c_int, [c_void_p, POINTER(Msg), c_int64]),
    "shmq_reject": (c_int, [c_void_p, POINTER(Msg)]),
    "shmq_extend": (c_int, [c_void_p, POINTER(Msg), c_uint32]),
    "shmq_ready_fd": (c_int, [c_void_p, POINTER(c_int)]),
    "shmq_stats_get": (c_int, [c_void_p, POINTER(Stats)]),
    "shmq_recover": (c_int, [c_void_p, POINTER(Recovery)]),
}


def _candidates() -> list[str]:
    """Where to look for libshmq, in order: $SHMQ_LIBRARY, the system, the build tree."""
    found = []
    explicit = os.environ.get("SHMQ_LIBRARY")
    if explicit:
        return [explicit]  # an explicit choice is never second-guessed
    system = ctypes.util.find_library("shmq")
    if system:
        found.append(system)
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    found.append(os.path.join(repo, "build", "lib", "libshmq.so"))
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path, use_errno=True)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError("shmq: cannot load libshmq (set SHMQ_LIBRARY to its path, or install it "
                      "where the dynamic linker finds it); tried: " + "; ".join(tried or ["nothing"]))


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


def _check_abi(lib: ctypes.CDLL) -> None:
    version = lib.shmq_version()
    major, minor = version // 10000, version // 100 % 100
    if (major, minor) != _SUPPORTED_MAJOR_MINOR:
        raise ImportError(f"shmq: libshmq {major}.{minor} loaded, this binding needs "
                          f"{_SUPPORTED_MAJOR_MINOR[0]}.{_SUPPORTED_MAJOR_MINOR[1]}")
    p, o = Params(), Options()
    lib.shmq_params_init(ctypes.byref(p))
    lib.shmq_options_init(ctypes.byref(o))
    if p.struct_size != ctypes.sizeof(Params) or o.struct_size != ctypes.sizeof(Options):
        raise ImportError("shmq: libshmq's structures do not match this binding's")


lib = _load()
_declare(lib)
_check_abi(lib)

# The hot path (send, recv, ack, nack, reject, extend) goes through a second
# CDLL over the same library, without argtypes: ctypes' per-argument checks
# cost about 0.5 us per call. Callers pass ready-made ctypes objects
# (c_void_p handle, c_int64 timeout, c_size_t length, byref(Msg)).
fast = ctypes.CDLL(lib._name, use_errno=True)
