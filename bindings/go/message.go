// message.go - Recv and the leased Message: its payload (a Go copy), its
// identity, and Ack, Nack, Reject and Extend.
package shmq

// #include <shmq/shmq.h>
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// String shows the message's identity, not its payload:
// "shmq.Message{id=7 attempt=2 size=64 leased}".
func (m *Message) String() string {
	if m == nil {
		return "shmq.Message(nil)"
	}
	state := "leased"
	if m.Finished() {
		state = "finished"
	}
	return fmt.Sprintf("shmq.Message{id=%d attempt=%d size=%d %s}", m.ID(), m.Attempt(), len(m.data), state)
}

// Recv leases the oldest ready message, waiting until ctx is done. A ctx
// deadline yields an error satisfying errors.Is(err, context.DeadlineExceeded),
// cancellation one satisfying errors.Is(err, context.Canceled). ErrPrefetch
// means this handle already holds its prefetch limit of leases.
func (q *Queue) Recv(ctx context.Context) (*Message, error) {
	m := q.newMessage()
	err := q.blocking(ctx, "recv", func(h *C.shmq_queue, ns C.int64_t) C.int {
		return C.shmq_recv(h, &m.c, ns)
	})
	if err != nil {
		m.done = true // nothing leased: the slab's finalizer skips it
		if errors.Is(err, ErrPrefetch) {
			q.retireSlab() // let dropped messages' slabs be collected (see newMessage)
		}
		return nil, err
	}
	m.data = C.GoBytes(unsafe.Pointer(m.c.data), C.int(m.c.len))
	return m, nil
}

// Message is one leased message. Finish it exactly once with Ack, Nack or
// Reject; its methods are safe to call from several goroutines.
type Message struct {
	q    *Queue
	mu   sync.Mutex
	done bool
	c    C.shmq_msg // the receipt; its data pointer is not used after Recv
	data []byte
	// batch is, in the first Message of a group allocated together (a
	// RecvBatch batch, a Recv slab), how many of the group are in use; see
	// nackDropped.
	batch int
}

// Data is the payload, copied into Go memory at receive; it stays valid
// after the message is finished and belongs to the caller.
func (m *Message) Data() []byte { return m.data }

// ID is unique and stable per queue: the same on every delivery.
func (m *Message) ID() uint64 { return uint64(m.c.id) }

// Attempt is the delivery count: 1 on the first delivery.
func (m *Message) Attempt() int { return int(m.c.attempt) }

// EnqueuedAt is when the message was first sent (wall clock).
func (m *Message) EnqueuedAt() time.Time { return time.Unix(0, int64(m.c.enqueued_ns)) }

// Lease is the length of the lease granted (or last extended to).
func (m *Message) Lease() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Duration(m.c.lease_ms) * time.Millisecond
}

// Finished reports whether the message was acked, nacked or rejected (or
// its lease was found lost).
func (m *Message) Finished() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done
}

// Ack marks the message done. ErrLeaseLost means the lease had expired or
// been reclaimed and another consumer may have the message.
func (m *Message) Ack() error {
	return m.finish("ack", func(h *C.shmq_queue) C.int { return C.shmq_ack(h, &m.c) })
}

// Nack asks for a retry after delay; a negative delay applies the queue's
// backoff policy. Past max attempts the message is dead-lettered instead.
func (m *Message) Nack(delay time.Duration) error {
	ns := C.int64_t(-1)
	if delay >= 0 {
		ns = C.int64_t(delay)
	}
	return m.finish("nack", func(h *C.shmq_queue) C.int { return C.shmq_nack(h, &m.c, ns) })
}

// Reject dead-letters the message now, without retry.
func (m *Message) Reject() error {
	return m.finish("reject", func(h *C.shmq_queue) C.int { return C.shmq_reject(h, &m.c) })
}

// Extend sets the lease to end d from now (rounded up to milliseconds).
func (m *Message) Extend(d time.Duration) error {
	ms, ok := millis(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || !ok {
		return m.misuse("extend", ok)
	}
	h, err := m.q.enter("extend")
	if err != nil {
		return err
	}
	rc := C.shmq_extend(h, &m.c, ms)
	m.q.leave()
	if rc == C.SHMQ_ELEASELOST {
		m.done = true
	}
	return codeErr(rc, "extend", m.q.name)
}

func (m *Message) finish(op string, call func(h *C.shmq_queue) C.int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return m.misuse(op, true)
	}
	h, err := m.q.enter(op)
	if err != nil {
		return err
	}
	rc := call(h)
	m.q.leave()
	m.done = true // the C call spends the receipt, whatever it returns
	return codeErr(rc, op, m.q.name)
}

func (m *Message) misuse(op string, durationOK bool) error {
	note := "message already finished"
	if !durationOK {
		note = "duration out of range"
	}
	return &Error{Code: CodeInvalid, Op: op, Queue: m.q.name, Note: note}
}
