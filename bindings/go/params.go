// params.go - queue parameters (fixed at create) and per-handle options,
// converted to and from shmq_params and shmq_options.
package shmq

// #include <shmq/shmq.h>
import "C"

import (
	"fmt"
	"os"
	"time"
)

// Jitter spreads retry delays (see shmq_jitter).
type Jitter uint32

const (
	JitterNone  Jitter = C.SHMQ_JITTER_NONE  // delay = min(cap, base * 2^(attempt-1))
	JitterFull  Jitter = C.SHMQ_JITTER_FULL  // uniform in [0, delay]
	JitterEqual Jitter = C.SHMQ_JITTER_EQUAL // uniform in [delay/2, delay]
)

// Overflow says what Send does when the queue is full (see shmq_overflow).
type Overflow uint32

const (
	OverflowBlock Overflow = C.SHMQ_OVERFLOW_BLOCK // wait, up to ctx's deadline
	OverflowFail  Overflow = C.SHMQ_OVERFLOW_FAIL  // ErrFull at once
	OverflowSpill Overflow = C.SHMQ_OVERFLOW_SPILL // shmqd spills to disk; without it, as Block. Needs SlotCount >= 2
)

// Durability says what a queue's messages survive (shmq_durability;
// docs/durability.md).
type Durability uint32

const (
	DurabilityMemory Durability = C.SHMQ_DURABILITY_MEMORY // the death of any process, not a reboot
	// DurabilityDisk: the segment is a file in SHMQ_DIR (put it on a real
	// filesystem), written back by Sync/Flush and by shmqd every flush_ms;
	// after a host crash every message a Sync confirmed is there. Queues only.
	DurabilityDisk Durability = C.SHMQ_DURABILITY_DISK
)

// Params are a queue's parameters, fixed when it is created. Start from
// DefaultParams(): every field is used as given (a zero BackoffBase means
// "retry at once", not "default").
type Params struct {
	SlotSize    uint32        // largest payload in bytes
	SlotCount   uint32        // message slots
	MaxClients  uint32        // producers + consumers attached at once
	Lease       time.Duration // default lease time (whole milliseconds)
	MaxAttempts uint32        // deliveries before dead-lettering
	BackoffBase time.Duration // retry delay after the first attempt
	BackoffCap  time.Duration // largest retry delay
	Jitter      Jitter
	Overflow    Overflow
	Mode        os.FileMode   // 0600, or 0660 to share with the group
	TTL         time.Duration // default time to live of a message (whole ms), 0 = none; at most MaxTTL
	MaxGroups   uint32        // 0: a queue; 1 .. MaxGroups: a topic with room for that many consumer groups
	// DedupWindow (whole ms, at most MaxDedupWindow; 0: off; on a topic a duplicate reaches no group):
	// a send WithDedupKey within this long after the first send of that key
	// stores nothing and returns the first message's id.
	DedupWindow   time.Duration
	DedupCapacity uint32     // keys the deduplication table holds at once; 0: 2 x SlotCount
	Durability    Durability // DurabilityMemory (the zero value) or DurabilityDisk
}

// MaxDedupWindow is the longest deduplication window (SHMQ_MAX_DEDUP_WINDOW_MS).
const MaxDedupWindow = time.Duration(C.SHMQ_MAX_DEDUP_WINDOW_MS) * time.Millisecond

// MaxDedupKey is the longest deduplication key, in bytes (SHMQ_MAX_DEDUP_KEY).
const MaxDedupKey = C.SHMQ_MAX_DEDUP_KEY

// DefaultParams are libshmq's defaults: 1024 slots of 1 KiB, 64 clients,
// 30 s leases, 5 attempts, backoff 100 ms .. 30 s with full jitter, blocking
// overflow, mode 0600.
func DefaultParams() Params {
	var c C.shmq_params
	C.shmq_params_init(&c)
	return paramsFromC(&c)
}

func paramsFromC(c *C.shmq_params) Params {
	return Params{
		SlotSize:    uint32(c.slot_size),
		SlotCount:   uint32(c.slot_count),
		MaxClients:  uint32(c.max_clients),
		Lease:       time.Duration(c.lease_ms) * time.Millisecond,
		MaxAttempts: uint32(c.max_attempts),
		BackoffBase: time.Duration(c.backoff_base_ms) * time.Millisecond,
		BackoffCap:  time.Duration(c.backoff_cap_ms) * time.Millisecond,
		Jitter:      Jitter(c.jitter),
		Overflow:    Overflow(c.overflow),
		Mode:        os.FileMode(c.mode),
		TTL:         time.Duration(c.ttl_ms) * time.Millisecond,
		MaxGroups:   uint32(c.max_groups),

		DedupWindow:   time.Duration(c.dedup_window_ms) * time.Millisecond,
		DedupCapacity: uint32(c.dedup_capacity),
		Durability:    Durability(c.durability),
	}
}

// The ranges libshmq accepts (shmq.h).
const (
	maxSlotSize = 1 << 30
	maxSlots    = 16 << 20
	maxClients  = 500
	maxTime     = 24 * time.Hour
)

// Validate checks every field against libshmq's ranges and names the first
// field out of range (a Params{} literal fails on SlotSize: start from
// DefaultParams()).
func (p Params) Validate() error {
	checks := []struct {
		ok   bool
		what string
	}{
		{p.SlotSize >= 1 && p.SlotSize <= maxSlotSize, fmt.Sprintf("SlotSize %d: must be 1 .. %d bytes", p.SlotSize, maxSlotSize)},
		{p.SlotCount >= 1 && p.SlotCount <= maxSlots, fmt.Sprintf("SlotCount %d: must be 1 .. %d", p.SlotCount, maxSlots)},
		{p.MaxClients >= 2 && p.MaxClients <= maxClients, fmt.Sprintf("MaxClients %d: must be 2 .. %d", p.MaxClients, maxClients)},
		{p.Lease >= time.Millisecond && p.Lease <= maxTime, fmt.Sprintf("Lease %v: must be 1ms .. 24h", p.Lease)},
		{p.MaxAttempts >= 1 && p.MaxAttempts <= 1000000, fmt.Sprintf("MaxAttempts %d: must be 1 .. 1000000", p.MaxAttempts)},
		{p.BackoffBase >= 0 && p.BackoffBase <= p.BackoffCap, fmt.Sprintf("BackoffBase %v: must be 0 .. BackoffCap (%v)", p.BackoffBase, p.BackoffCap)},
		{p.BackoffCap >= 0 && p.BackoffCap <= maxTime, fmt.Sprintf("BackoffCap %v: must be 0 .. 24h", p.BackoffCap)},
		{p.Jitter <= JitterEqual, fmt.Sprintf("Jitter %d: must be JitterNone, JitterFull or JitterEqual", p.Jitter)},
		{p.Overflow <= OverflowSpill, fmt.Sprintf("Overflow %d: must be OverflowBlock, OverflowFail or OverflowSpill", p.Overflow)},
		{p.Mode&^0o660 == 0 && p.Mode&0o600 == 0o600, fmt.Sprintf("Mode %#o: must be 0600 or 0660", uint32(p.Mode))},
		{p.TTL >= 0 && p.TTL <= MaxTTL, fmt.Sprintf("TTL %v: must be 0 .. %v", p.TTL, MaxTTL)},
		{p.MaxGroups <= MaxGroups, fmt.Sprintf("MaxGroups %d: must be 0 (a queue) .. %d", p.MaxGroups, MaxGroups)},
		{p.DedupWindow >= 0 && p.DedupWindow <= MaxDedupWindow, fmt.Sprintf("DedupWindow %v: must be 0 (off) .. %v", p.DedupWindow, MaxDedupWindow)},
		{p.Durability <= DurabilityDisk, fmt.Sprintf("Durability %d: must be DurabilityMemory or DurabilityDisk", p.Durability)},
		{p.Durability == DurabilityMemory || p.MaxGroups == 0, fmt.Sprintf("Durability: a topic (MaxGroups %d) cannot be DurabilityDisk", p.MaxGroups)},
		{p.DedupCapacity <= C.SHMQ_MAX_DEDUP_CAPACITY, fmt.Sprintf("DedupCapacity %d: must be 0 (2 x SlotCount) .. %d", p.DedupCapacity, C.SHMQ_MAX_DEDUP_CAPACITY)},
		{p.DedupCapacity == 0 || p.DedupWindow > 0, fmt.Sprintf("DedupCapacity %d: needs a DedupWindow (without a window deduplication is off, so no send could use the table)", p.DedupCapacity)},
		{p.Overflow != OverflowSpill || p.SlotCount >= 2, fmt.Sprintf("Overflow OverflowSpill needs SlotCount 2 or more, got %d (shmqd spills above a mark below the slot count, and one slot has none)", p.SlotCount)},
	}
	for _, c := range checks {
		if !c.ok {
			return &Error{Code: CodeInvalid, Op: "create", Note: "Params." + c.what}
		}
	}
	return nil
}

func (p Params) toC() (C.shmq_params, bool) {
	var c C.shmq_params
	C.shmq_params_init(&c)
	lease, ok1 := millis(p.Lease)
	base, ok2 := millis(p.BackoffBase)
	capMs, ok3 := millis(p.BackoffCap)
	ttl, ok4 := millis(p.TTL)
	window, ok5 := millis(p.DedupWindow)
	c.slot_size = C.uint32_t(p.SlotSize)
	c.slot_count = C.uint32_t(p.SlotCount)
	c.max_clients = C.uint32_t(p.MaxClients)
	c.lease_ms = lease
	c.max_attempts = C.uint32_t(p.MaxAttempts)
	c.backoff_base_ms = base
	c.backoff_cap_ms = capMs
	c.jitter = C.uint32_t(p.Jitter)
	c.overflow = C.uint32_t(p.Overflow)
	c.mode = C.uint32_t(p.Mode)
	c.ttl_ms = ttl
	c.max_groups = C.uint32_t(p.MaxGroups)
	c.dedup_window_ms = window
	c.dedup_capacity = C.uint32_t(p.DedupCapacity)
	c.durability = C.uint32_t(p.Durability)
	return c, ok1 && ok2 && ok3 && ok4 && ok5
}

// millis rounds d up to whole milliseconds; false if negative or too large.
func millis(d time.Duration) (C.uint32_t, bool) {
	if d < 0 {
		return 0, false
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 0xFFFFFFFF {
		return 0, false
	}
	return C.uint32_t(ms), true
}

// Option sets a per-handle option for Open or Create.
type Option func(*C.shmq_options)

// WithPrefetch limits how many messages this handle may hold leased at once
// (default 64; 0 means no limit).
func WithPrefetch(n uint32) Option {
	return func(o *C.shmq_options) { o.prefetch = C.uint32_t(n) }
}

// WithSpin sets the longest a blocking call spins before sleeping (default
// 20 µs). By default the library spins only while spinning pays off and
// sleeps at once on an oversubscribed machine; see WithFixedSpin.
func WithSpin(d time.Duration) Option {
	return func(o *C.shmq_options) {
		if d < 0 {
			d = 0
		}
		if d > time.Second {
			d = time.Second
		}
		o.spin_ns = C.uint32_t(d.Nanoseconds())
	}
}

// WithFixedSpin makes every blocking call spin for the whole WithSpin budget
// before sleeping (SHMQ_WAIT_SPIN): latency at any cost, a core burnt while
// idle and throughput lost on a busy host.
func WithFixedSpin() Option {
	return func(o *C.shmq_options) { o.wait = C.SHMQ_WAIT_SPIN }
}

func optionsToC(opts []Option) C.shmq_options {
	var o C.shmq_options
	C.shmq_options_init(&o)
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
