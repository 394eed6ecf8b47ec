"""Plain-data views of shmq_params, shmq_stats and shmq_recovery.

Times are converted to Python's units: durations in seconds (float), instants
as timezone-aware UTC datetimes. Field names otherwise follow the C structs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

JITTER = {"none": 0, "full": 1, "equal": 2}
OVERFLOW = {"block": 0, "fail": 1, "spill": 2}
DURABILITY = {"memory": 0, "disk": 1}  # shmq_durability: SHMQ_DURABILITY_MEMORY, _DISK
WAIT = {"adaptive": 0, "spin": 1}  # shmq_wait: SHMQ_WAIT_ADAPTIVE, SHMQ_WAIT_SPIN


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc_from_ns(ns: int) -> datetime:
    """A CLOCK_REALTIME nanosecond count as an aware UTC datetime (exact to the us)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _name_of(table: dict[str, int], value: int) -> str:
    return next((k for k, v in table.items() if v == value), str(value))


@dataclass(frozen=True)
class QueueParams:
    """A queue's parameters, fixed at creation (shmq_params)."""
    slot_size: int
    slot_count: int
    max_clients: int
    lease: float          # seconds
    max_attempts: int
    backoff_base: float   # seconds
    backoff_cap: float    # seconds
    jitter: str           # "none" | "full" | "equal"
    overflow: str         # "block" | "fail" | "spill"
    mode: int
    ttl: Optional[float] = None  # seconds; None: messages do not expire unless sent with a ttl
    max_groups: int = 0   # 0: a queue; > 0: a topic with room for that many consumer groups
    dedup_window: Optional[float] = None  # seconds; None: sends cannot carry dedup keys
    dedup_capacity: int = 0  # keys the deduplication table holds at once
    durability: str = "memory"  # "memory" | "disk" (sync() waits for the disk)

    @classmethod
    def from_c(cls, p: dict[str, int]) -> "QueueParams":
        return cls(p["slot_size"], p["slot_count"], p["max_clients"], p["lease_ms"] / 1000,
                   p["max_attempts"], p["backoff_base_ms"] / 1000, p["backoff_cap_ms"] / 1000,
                   _name_of(JITTER, p["jitter"]), _name_of(OVERFLOW, p["overflow"]), p["mode"],
                   p["ttl_ms"] / 1000 if p["ttl_ms"] else None, p["max_groups"],
                   p["dedup_window_ms"] / 1000 if p["dedup_window_ms"] else None, p["dedup_capacity"],
                   _name_of(DURABILITY, p["durability"]))


# Bits of ClientStats.role (shmq.h's SHMQ_ROLE_*).
ROLE_SENDER = 1    # has sent
ROLE_RECEIVER = 2  # has received
ROLE_DAEMON = 4    # a supervisor (shmqd)


@dataclass(frozen=True)
class ClientStats:
    """One attached process (shmq_client_stats); counters since it attached."""
    pid: int
    role: int             # ROLE_SENDER | ROLE_RECEIVER | ROLE_DAEMON bits
    prefetch: int
    leased: int
    alive: Optional[bool]  # None when liveness is unknown (another pid namespace)
    sent: int
    delivered: int
    acked: int
    nacked: int
    rejected: int
    attached_at: datetime
    sleeping: int         # its threads asleep in recv, waiting for a message

    @classmethod
    def from_c(cls, c: dict[str, int]) -> "ClientStats":
        alive = None if c["alive"] < 0 else bool(c["alive"])
        return cls(c["pid"], c["role"], c["prefetch"], c["leased"], alive, c["sent"],
                   c["delivered"], c["acked"], c["nacked"], c["rejected"],
                   utc_from_ns(c["attached_ns"]), c["sleeping"])


@dataclass(frozen=True)
class Stats:
    """A snapshot of one queue (shmq_stats): slots per state now, totals since creation."""
    slot_count: int
    free: int
    writing: int
    ready: int
    leased: int
    delayed: int
    dead: int
    oldest_ready_age: float           # seconds; 0.0 when nothing is ready
    enqueued: int
    delivered: int
    acked: int
    nacked: int
    rejected: int
    redelivered: int
    reclaimed: int
    dead_lettered: int
    clients_max: int
    daemon_heartbeat_age: Optional[float]  # seconds; None if no daemon ever ran
    clients: list[ClientStats] = field(default_factory=list)
    spilled: int = 0                  # messages in shmqd's spill store on disk
    expired: int = 0                  # dead-lettered because their ttl passed (in dead_lettered too)
    # Durability (docs/durability.md); the flush fields are for "disk" queues.
    durability: str = "memory"        # "memory" or "disk": the segment's own mode
    not_durable: bool = False         # a disk queue whose directory is tmpfs
    quarantined: int = 0              # torn messages found after a reboot, dead-lettered "invalid"
    flushes: int = 0                  # flushes finished
    last_flush: Optional[float] = None  # CLOCK_REALTIME seconds when the last one finished
    last_flush_duration: float = 0.0  # seconds
    flush_error: int = 0              # errno of the last failed flush, 0 if the last one worked
    durable_lag: int = 0              # messages sent that no finished flush covers yet

    @classmethod
    def from_c(cls, s: dict[str, Any]) -> "Stats":
        hb = s["daemon_heartbeat_age_ns"]
        return cls(s["slot_count"], s["free"], s["writing"], s["ready"], s["leased"], s["delayed"],
                   s["dead"], s["oldest_ready_age_ns"] / 1e9, s["enqueued"], s["delivered"],
                   s["acked"], s["nacked"], s["rejected"], s["redelivered"], s["reclaimed"],
                   s["dead_lettered"], s["clients_max"], None if hb < 0 else hb / 1e9,
                   [ClientStats.from_c(c) for c in s["client"]], s["spilled"], s["expired"],
                   "disk" if s["durability"] == 1 else "memory", bool(s["not_durable"]),
                   s["quarantined"], s["flushes"],
                   s["last_flush_ns"] / 1e9 if s["last_flush_ns"] > 0 else None,
                   s["last_flush_duration_ns"] / 1e9, s["flush_error"], s["durable_lag"])


@dataclass(frozen=True)
class Recovery:
    """What one recovery pass did (shmq_recovery)."""
    dead_clients: int
    leases_reclaimed: int
    writes_reclaimed: int
    delayed_promoted: int
    dead_lettered: int
    republished: int

    @classmethod
    def from_c(cls, r: dict[str, int]) -> "Recovery":
        return cls(**r)
