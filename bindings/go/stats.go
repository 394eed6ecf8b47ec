// stats.go - Stats (a snapshot of the queue) and Recover (one recovery
// pass), converted from shmq_stats and shmq_recovery.
package shmq

// #include <shmq/shmq.h>
// #include <stdlib.h>
import "C"

import (
	"context"
	"syscall"
	"time"
	"unsafe"
)

// Stats is a snapshot of one queue: slots per state now, totals since the
// queue was created, and the attached clients. It is read without stopping
// anyone, so counts may be off by the operations in flight.
// Every count is a uint64, every age a time.Duration.
type Stats struct {
	SlotCount                                   uint64
	Free, Writing, Ready, Leased, Delayed, Dead uint64
	OldestReadyAge                              time.Duration // 0 when nothing is ready
	Enqueued, Delivered, Acked, Nacked          uint64
	Rejected, Redelivered, Reclaimed            uint64
	DeadLettered                                uint64
	Spilled                                     uint64 // in shmqd's spill store on disk
	Expired                                     uint64 // dead-lettered because their TTL passed (in DeadLettered too)
	ClientsMax                                  uint64
	DaemonHeartbeatAge                          time.Duration // -1 if no daemon ever ran
	Clients                                     []ClientStats
	// Durability (docs/durability.md); the flush fields are for DurabilityDisk.
	Durability        Durability    // the segment's own mode
	NotDurable        bool          // a DurabilityDisk queue whose directory is tmpfs
	Quarantined       uint64        // torn messages found after a reboot, dead-lettered "invalid"
	Flushes           uint64        // flushes finished
	LastFlush         time.Time     // when the last one finished; zero if never
	LastFlushDuration time.Duration // how long it took
	FlushError        syscall.Errno // of the last failed flush; 0 if the last one worked
	DurableLag        uint64        // messages sent that no finished flush covers yet
}

// Bits of ClientStats.Role (shmq.h's SHMQ_ROLE_*).
const (
	RoleSender   uint32 = C.SHMQ_ROLE_SENDER   // has sent
	RoleReceiver uint32 = C.SHMQ_ROLE_RECEIVER // has received
	RoleDaemon   uint32 = C.SHMQ_ROLE_DAEMON   // a supervisor (shmqd)
)

// ClientStats describes one attached process; counters are since it attached.
type ClientStats struct {
	PID                                      int
	Role                                     uint32 // RoleSender | RoleReceiver | RoleDaemon bits
	Prefetch, Leased                         uint64
	Sleeping                                 uint64 // its threads asleep in Recv, waiting for a message
	Alive                                    int    // 1 alive, 0 dead, -1 unknown
	Sent, Delivered, Acked, Nacked, Rejected uint64
	AttachedAt                               time.Time
}

// Recovery reports what one recovery pass did.
type Recovery struct {
	DeadClients, LeasesReclaimed, WritesReclaimed uint64
	DelayedPromoted, DeadLettered, Republished    uint64
}

// Stats reads a snapshot of the queue.
func (q *Queue) Stats() (Stats, error) {
	h, err := q.enter("stats")
	if err != nil {
		return Stats{}, err
	}
	defer q.leave()
	var p C.shmq_params
	C.shmq_get_params(h, &p)
	clients := (*C.shmq_client_stats)(C.calloc(C.size_t(p.max_clients), C.sizeof_shmq_client_stats))
	defer C.free(unsafe.Pointer(clients))
	s := C.shmq_stats{struct_size: C.sizeof_shmq_stats, client: clients, client_cap: C.size_t(p.max_clients)}
	if err := q.err(C.shmq_stats_get(h, &s), "stats"); err != nil {
		return Stats{}, err
	}
	return statsFromC(&s), nil
}

func statsFromC(s *C.shmq_stats) Stats {
	out := Stats{
		SlotCount: uint64(s.slot_count), Free: uint64(s.free), Writing: uint64(s.writing),
		Ready: uint64(s.ready), Leased: uint64(s.leased), Delayed: uint64(s.delayed), Dead: uint64(s.dead),
		OldestReadyAge: time.Duration(s.oldest_ready_age_ns),
		Enqueued:       uint64(s.enqueued), Delivered: uint64(s.delivered), Acked: uint64(s.acked),
		Nacked: uint64(s.nacked), Rejected: uint64(s.rejected), Redelivered: uint64(s.redelivered),
		Reclaimed: uint64(s.reclaimed), DeadLettered: uint64(s.dead_lettered), Spilled: uint64(s.spilled),
		Expired:    uint64(s.expired),
		ClientsMax: uint64(s.clients_max), DaemonHeartbeatAge: time.Duration(s.daemon_heartbeat_age_ns),
		Durability: Durability(s.durability), NotDurable: s.not_durable != 0, Quarantined: uint64(s.quarantined),
		Flushes: uint64(s.flushes), LastFlushDuration: time.Duration(s.last_flush_duration_ns),
		FlushError: syscall.Errno(s.flush_error), DurableLag: uint64(s.durable_lag),
	}
	if s.last_flush_ns > 0 {
		out.LastFlush = time.Unix(0, int64(s.last_flush_ns))
	}
	n := int(s.clients)
	if n > int(s.client_cap) {
		n = int(s.client_cap)
	}
	for _, c := range unsafe.Slice(s.client, n) {
		out.Clients = append(out.Clients, clientFromC(&c))
	}
	return out
}

func clientFromC(c *C.shmq_client_stats) ClientStats {
	return ClientStats{
		PID: int(c.pid), Role: uint32(c.role), Prefetch: uint64(c.prefetch), Leased: uint64(c.leased),
		Sleeping: uint64(c.sleeping),
		Alive:    int(c.alive), Sent: uint64(c.sent), Delivered: uint64(c.delivered), Acked: uint64(c.acked),
		Nacked: uint64(c.nacked), Rejected: uint64(c.rejected), AttachedAt: time.Unix(0, int64(c.attached_ns)),
	}
}

// Recover runs one recovery pass: releases dead clients' records and slots,
// reclaims expired leases, promotes due retries. shmqd does this on a timer;
// without it, clients run it themselves while they wait.
func (q *Queue) Recover() (Recovery, error) {
	h, err := q.enter("recover")
	if err != nil {
		return Recovery{}, err
	}
	defer q.leave()
	var r C.shmq_recovery
	if err := q.err(C.shmq_recover(h, &r), "recover"); err != nil {
		return Recovery{}, err
	}
	return Recovery{
		DeadClients: uint64(r.dead_clients), LeasesReclaimed: uint64(r.leases_reclaimed),
		WritesReclaimed: uint64(r.writes_reclaimed), DelayedPromoted: uint64(r.delayed_promoted),
		DeadLettered: uint64(r.dead_lettered), Republished: uint64(r.republished),
	}, nil
}

// Sync waits until every message sent before the call (by any process) is
// on disk: it returns once a flush that began after the call has ended, and
// concurrent callers share one flush (group commit). A DurabilityMemory
// queue returns at once. ErrFlush if the write-back failed (nothing is
// confirmed); ctx's deadline or cancellation as for Recv.
func (q *Queue) Sync(ctx context.Context) error {
	return q.blocking(ctx, "sync", func(h *C.shmq_queue, timeoutNs C.int64_t) C.int { return C.shmq_sync(h, timeoutNs) })
}

// Flush writes a DurabilityDisk queue back to its file now (shmqd does it
// every flush_ms); a DurabilityMemory queue has nothing to do. ErrFlush if
// it failed.
func (q *Queue) Flush() error {
	h, err := q.enter("flush")
	if err != nil {
		return err
	}
	defer q.leave()
	return q.err(C.shmq_flush(h), "flush")
}
