"""Turning Python arguments into what libshmq takes: names, timeouts,
bytes-like payloads, parameters and options."""
from __future__ import annotations

import ctypes
import math
from typing import Any, Optional

from . import _lib
from ._lib import lib
from .errors import InvalidArgument
from .stats import JITTER, OVERFLOW


def buffer_of(data: Any) -> tuple[Any, int, Any]:
    """(pointer argument, length, object to keep alive) for a bytes-like object."""
    if type(data) is bytes:
        return data, len(data), data
    mv = memoryview(data)
    if not mv.c_contiguous:
        raise InvalidArgument("message buffers must be C-contiguous")
    n = mv.nbytes
    if mv.readonly:
        b = mv.tobytes()
        return b, n, b
    arr = (ctypes.c_char * n).from_buffer(mv)
    return arr, n, (arr, mv)


def address(ptr: Any) -> int:
    """The address of a bytes object or ctypes array from buffer_of."""
    if isinstance(ptr, bytes):
        return ctypes.cast(ptr, ctypes.c_void_p).value or 0
    return ctypes.addressof(ptr)


def check_timeout(timeout: float) -> Optional[int]:
    """Seconds as nanoseconds; None for an infinite timeout."""
    if timeout < 0 or math.isnan(timeout):
        raise InvalidArgument(f"timeout must be None or >= 0, got {timeout!r}")
    return None if math.isinf(timeout) else int(timeout * 1e9)


def encode(name: str) -> bytes:
    """A queue name as the C string libshmq takes."""
    if not isinstance(name, str):
        raise TypeError(f"queue name must be str, got {type(name).__name__}")
    return name.encode("utf-8", "surrogateescape")


def options(prefetch: int, spin_ns: int) -> _lib.Options:
    """shmq_options from the keyword arguments of Queue()."""
    o = _lib.Options()
    lib.shmq_options_init(ctypes.byref(o))
    o.prefetch, o.spin_ns = _u32(prefetch, "prefetch"), _u32(spin_ns, "spin_ns")
    return o


def params(slot_size: Optional[int], slot_count: Optional[int], max_clients: Optional[int],
           lease: Optional[float], max_attempts: Optional[int], backoff_base: Optional[float],
           backoff_cap: Optional[float], jitter: Optional[str], overflow: Optional[str],
           mode: int) -> _lib.Params:
    """shmq_params from Queue.create's keywords; None keeps libshmq's default."""
    p = _lib.Params()
    lib.shmq_params_init(ctypes.byref(p))
    for field, value in (("slot_size", slot_size), ("slot_count", slot_count),
                         ("max_clients", max_clients), ("max_attempts", max_attempts)):
        if value is not None:
            setattr(p, field, _u32(value, field))
    for field, seconds in (("lease_ms", lease), ("backoff_base_ms", backoff_base),
                           ("backoff_cap_ms", backoff_cap)):
        if seconds is not None:
            setattr(p, field, _u32(math.ceil(seconds * 1000), field[:-3]))
    if jitter is not None:
        p.jitter = _choice(JITTER, jitter, "jitter")
    if overflow is not None:
        p.overflow = _choice(OVERFLOW, overflow, "overflow")
    p.mode = _u32(mode, "mode")
    return p


def _u32(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument(f"{what} out of range: {value!r}")
    return int(value)


def _choice(table: dict[str, int], value: str, what: str) -> int:
    if value not in table:
        raise InvalidArgument(f"{what} must be one of {', '.join(table)}; got {value!r}")
    return table[value]
