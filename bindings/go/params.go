// params.go - queue parameters (fixed at create) and per-handle options,
// converted to and from shmq_params and shmq_options.
package shmq

// #include <shmq/shmq.h>
import "C"

import (
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
	OverflowSpill Overflow = C.SHMQ_OVERFLOW_SPILL // shmqd spills to disk; without it, as Block
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
	Mode        os.FileMode // 0600, or 0660 to share with the group
}

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
	}
}

func (p Params) toC() (C.shmq_params, bool) {
	var c C.shmq_params
	C.shmq_params_init(&c)
	lease, ok1 := millis(p.Lease)
	base, ok2 := millis(p.BackoffBase)
	capMs, ok3 := millis(p.BackoffCap)
	c.slot_size = C.uint32_t(p.SlotSize)
	c.slot_count = C.uint32_t(p.SlotCount)
	c.max_clients = C.uint32_t(p.MaxClients)
	c.lease_ms = lease
	c.max_attempts = C.uint32_t(p.MaxAttempts)
	c.backoff_base_ms = base
	c.backoff_cap_ms = capMs
	c.jitter = C.uint32_t(p.Jitter)
	c.overflow = C.uint32_t(p.Overflow)
	c.mode = C.uint32_t(p.Mode.Perm())
	return c, ok1 && ok2 && ok3
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

// WithSpin sets how long a blocking call spins before sleeping (default 20 µs).
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

func optionsToC(opts []Option) C.shmq_options {
	var o C.shmq_options
	C.shmq_options_init(&o)
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
