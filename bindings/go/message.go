// message.go - Recv and the leased Message: its payload (a Go copy), its
// identity, and Ack, Nack, Reject and Extend.
package shmq

// #include "shmq_go.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
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
	var r C.shmq_go_recv_result // returned by value: nothing escapes per call
	err := q.blocking(ctx, "recv", func(h *C.shmq_queue, ns C.int64_t) C.int {
		r = C.shmq_go_recv(handle(h), ns)
		return r.rc
	})
	if err != nil {
		if errors.Is(err, ErrPrefetch) {
			q.retireSlab() // let dropped messages' slabs be collected (see newMessage)
		}
		return nil, err
	}
	return q.newMessage(&r.msg, &r.hdr), nil
}

// ackThenRecv acks handled (leased through q), then receives like Recv: in
// one cgo call while a message is ready. The ack's error comes back apart.
func (q *Queue) ackThenRecv(ctx context.Context, handled *Message) (m *Message, ackErr, err error) {
	m, ackErr, err = q.ackThenTryRecv(handled)
	if m == nil && errors.Is(err, ErrEmpty) {
		m, err = q.Recv(ctx)
	}
	return m, ackErr, err
}

// ackThenTryRecv acks handled (if not nil; leased through q), then leases
// the next message without waiting, in one cgo call. m is nil when nothing
// was ready (err ErrEmpty) or the receive failed. The ack's error comes
// back apart.
func (q *Queue) ackThenTryRecv(handled *Message) (m *Message, ackErr, err error) {
	var c C.shmq_go_msg
	if handled == nil || handled.claim(q, &c, "ack") != nil { // none, or finished meanwhile elsewhere
		return q.tryRecv()
	}
	h, err := q.enter("ack")
	if err != nil {
		return nil, err, err
	}
	r := C.shmq_go_ack_recv(handle(h), c)
	q.leave()
	ackErr = q.err(r.ack_rc, "ack")
	m, err = q.received(&r.msg, &r.hdr, r.rc)
	return m, ackErr, err
}

// tryRecv leases a message without waiting (ErrEmpty if none is ready).
func (q *Queue) tryRecv() (*Message, error, error) {
	h, err := q.enter("recv")
	if err != nil {
		return nil, nil, err
	}
	r := C.shmq_go_recv(handle(h), 0)
	q.leave()
	m, err := q.received(&r.msg, &r.hdr, r.rc)
	return m, nil, err
}

// received wraps what a receive returned: the Message, or rc's error.
func (q *Queue) received(c *C.shmq_go_msg, hdr *C.shmq_go_hdr, rc C.int) (*Message, error) {
	switch rc {
	case C.SHMQ_OK:
		return q.newMessage(c, hdr), nil
	case C.SHMQ_EPREFETCH:
		q.retireSlab() // as in Recv
	}
	return nil, q.err(rc, "recv")
}

// Message is one leased message. Finish it exactly once with Ack, Nack or
// Reject; its methods are safe to call from several goroutines.
type Message struct {
	q    *Queue
	mu   sync.Mutex
	done bool
	c    C.shmq_go_msg // the receipt; its data pointer is not used after Recv
	data []byte
	// hdrs is the encoded header block copied at receive (nil: none), hrc
	// SHMQ_OK or the code of a damaged block.
	hdrs []byte
	hrc  C.int
	// batch is, in the first Message of a group allocated together (a
	// RecvBatch batch, a Recv slab), how many of the group are in use; see
	// nackDropped.
	batch int
}

// Data is the payload, copied into Go memory at receive; it stays valid
// after the message is finished and belongs to the caller. A payload of up
// to 256 bytes shares a 4 KiB block with other messages' payloads (one
// allocation for many messages): keeping it keeps the block.
func (m *Message) Data() []byte { return m.data }

// Headers are the headers the message was sent with (nil if none), copied
// at receive: the map is the caller's, and each call makes a new one. A
// stored block that breaks the encoding (written by a buggy or hostile
// producer) gives ErrCorrupt.
func (m *Message) Headers() (map[string]string, error) {
	if m.hrc != C.SHMQ_OK {
		return nil, m.q.err(m.hrc, "headers")
	}
	if len(m.hdrs) == 0 {
		return nil, nil
	}
	h := make(map[string]string)
	for b := m.hdrs; len(b) > 0; {
		k, v, rest := nextHeader(b)
		h[k], b = v, rest
	}
	return h, nil
}

// Header is the value of header key and whether the message has it (false
// also when its block is damaged: Headers says so).
func (m *Message) Header(key string) (string, bool) {
	if m.hrc != C.SHMQ_OK {
		return "", false
	}
	for b := m.hdrs; len(b) > 0; {
		k, v, rest := nextHeader(b)
		if k == key {
			return v, true
		}
		b = rest
	}
	return "", false
}

// nextHeader splits the first pair off an encoded block (key length u8,
// value length u16 little-endian, key, value), which the C side checked
// at receive (shmq_go_headers_of).
func nextHeader(b []byte) (key, value string, rest []byte) {
	kl, vl := int(b[0]), int(b[1])|int(b[2])<<8
	b = b[3:]
	return string(b[:kl]), string(b[kl : kl+vl]), b[kl+vl:]
}

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
func (m *Message) Ack() error { return m.finish("ack", C.SHMQ_GO_ACK, 0, 0) }

// Nack asks for a retry after delay; a negative delay applies the queue's
// backoff policy. Past max attempts the message is dead-lettered instead.
func (m *Message) Nack(delay time.Duration) error {
	return m.finish("nack", C.SHMQ_GO_NACK, nackDelay(delay), 0)
}

// NackWithReason is Nack, but a message out of attempts is dead-lettered
// with reason (Nack's is DeadMaxAttempts). A reason a caller may not give
// (see DeadReason), 0 included, is ErrInvalid, as shmq_nack_ex refuses it,
// and the message stays leased.
func (m *Message) NackWithReason(delay time.Duration, reason DeadReason) error {
	if err := m.checkReason("nack", reason); err != nil {
		return err
	}
	return m.finish("nack", C.SHMQ_GO_NACK, nackDelay(delay), reason)
}

func nackDelay(delay time.Duration) C.int64_t {
	if delay < 0 {
		return -1
	}
	return C.int64_t(delay)
}

// Reject dead-letters the message now, without retry.
func (m *Message) Reject() error { return m.finish("reject", C.SHMQ_GO_REJECT, 0, 0) }

// RejectWithReason is Reject with the dead letter's reason (Reject's is
// DeadRejected); counted as a reject either way. A reason a caller may not
// give, 0 included, is ErrInvalid, and the message stays leased.
func (m *Message) RejectWithReason(reason DeadReason) error {
	if err := m.checkReason("reject", reason); err != nil {
		return err
	}
	return m.finish("reject", C.SHMQ_GO_REJECT, 0, reason)
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
	rc := C.shmq_go_finish(handle(h), &m.c, C.SHMQ_GO_EXTEND, C.int64_t(ms), 0)
	m.q.leave()
	if rc == C.SHMQ_ELEASELOST {
		m.done = true
	}
	return m.q.err(rc, "extend")
}

// checkReason refuses a reason a caller may not give (0 is none: libshmq's
// shmq_nack_ex and shmq_reject_ex refuse it, and so does Python).
func (m *Message) checkReason(name string, reason DeadReason) error {
	if reason.callerMay() {
		return nil
	}
	return &Error{Code: CodeInvalid, Op: name, Queue: m.q.name, Group: m.q.group,
		Note: fmt.Sprintf("dead-letter reason %v is not one a caller may give (DeadMaxAttempts, DeadRejected, DeadBridgeRejected); the message is still leased", reason)}
}

// finish acks, nacks or rejects the message (op: SHMQ_GO_ACK, ...), a
// nack or reject with reason (0: Nack's and Reject's own, shmq_nack and
// shmq_reject; callers' reasons are checked by checkReason first).
func (m *Message) finish(name string, op C.int, arg C.int64_t, reason DeadReason) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return m.misuse(name, true)
	}
	h, err := m.q.enter(name)
	if err != nil {
		return err
	}
	rc := C.shmq_go_finish(handle(h), &m.c, op, arg, C.int(reason))
	m.q.leave()
	m.done = true // the C call spends the receipt, whatever it returns
	return m.q.err(rc, name)
}

func (m *Message) misuse(op string, durationOK bool) error {
	note := "message already finished"
	if !durationOK {
		note = "duration out of range"
	}
	return &Error{Code: CodeInvalid, Op: op, Queue: m.q.name, Group: m.q.group, Note: note}
}
