"""Turning Python arguments into what libshmq takes: names, parameters and
options, checked before any C call."""
from __future__ import annotations

import math
from typing import Optional

from ._load import core
from .errors import BadName, InvalidArgument
from .stats import DURABILITY, JITTER, OVERFLOW, WAIT


def check_name(name: str) -> bytes:
    """A queue name as the C string libshmq takes; BadName for what it would refuse
    (a NUL byte included: C would read the name only up to it)."""
    if not isinstance(name, str):
        raise TypeError(f"queue name must be str, got {type(name).__name__}")
    raw = name.encode("utf-8", "surrogateescape")
    if core.name_check(raw) != 0:
        raise BadName(f"bad queue name {name!r}: names are 1-64 of [A-Za-z0-9._-], not only dots")
    return raw


def u32(value: int, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument(f"{what} must be an integer 0 .. 2**32-1, got {value!r}")
    return value


def options(prefetch: int, spin_ns: int, wait: str) -> tuple[int, int, int]:
    """shmq_options from the keywords of Queue() and Queue.create()."""
    return u32(prefetch, "prefetch"), u32(spin_ns, "spin_ns"), _choice(WAIT, wait, "wait")


def params(slot_size: Optional[int], slot_count: Optional[int], max_clients: Optional[int],
           lease: Optional[float], max_attempts: Optional[int], backoff_base: Optional[float],
           backoff_cap: Optional[float], jitter: Optional[str], overflow: Optional[str],
           mode: int, ttl: Optional[float] = None, dedup_window: Optional[float] = None,
           dedup_capacity: Optional[int] = None, durability: Optional[str] = None) -> dict[str, int]:
    """shmq_params from Queue.create's keywords (durations in seconds or
    timedeltas); None keeps libshmq's default."""
    p = core.default_params()
    for field, value in (("slot_size", slot_size), ("slot_count", slot_count),
                         ("max_clients", max_clients), ("max_attempts", max_attempts),
                         ("dedup_capacity", dedup_capacity)):
        if value is not None:
            p[field] = u32(value, field)
    for field, seconds in (("lease_ms", lease), ("backoff_base_ms", backoff_base),
                           ("backoff_cap_ms", backoff_cap), ("ttl_ms", ttl),
                           ("dedup_window_ms", dedup_window)):
        if seconds is not None:
            if hasattr(seconds, "total_seconds"):  # a timedelta
                seconds = seconds.total_seconds()
            if math.isnan(seconds) or seconds < 0:
                raise InvalidArgument(f"{field[:-3]} must be >= 0 seconds, got {seconds!r}")
            p[field] = u32(math.ceil(seconds * 1000), field[:-3] + " (in ms)")
    if jitter is not None:
        p["jitter"] = _choice(JITTER, jitter, "jitter")
    if overflow is not None:
        p["overflow"] = _choice(OVERFLOW, overflow, "overflow")
    if durability is not None:
        p["durability"] = _choice(DURABILITY, durability, "durability")
    p["mode"] = u32(mode, "mode")
    _check_together(p)
    return p


def _check_together(p: dict[str, int]) -> None:
    """What shmq_create refuses with a bare SHMQ_EINVAL, said in words."""
    if p["dedup_capacity"] and not p["dedup_window_ms"]:
        raise InvalidArgument("dedup_capacity needs a dedup_window (without a window deduplication "
                              "is off, so no send could use the table)")
    if p["overflow"] == OVERFLOW["spill"] and p["slot_count"] < 2:
        raise InvalidArgument("overflow 'spill' needs slot_count 2 or more (shmqd spills above a "
                              "mark below the slot count, and one slot has none)")


def _choice(table: dict[str, int], value: str, what: str) -> int:
    if value not in table:
        raise InvalidArgument(f"{what} must be one of {', '.join(table)}; got {value!r}")
    return table[value]
