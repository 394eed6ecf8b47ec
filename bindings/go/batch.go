// batch.go - RecvBatch and AckBatch: one cgo call for many messages, and
// the finalizers that give back the leases of messages dropped unfinished:
// Messages are allocated in groups (a RecvBatch batch, or a slab of 64 that
// Recv hands out one by one) with one finalizer per group, because a
// finalizer per Message would double the cost of Recv + Ack.
package shmq

/*
#include <shmq/shmq.h>
*/
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// RecvBatch leases up to max messages (at most the handle's prefetch room)
// in one cgo call, waiting until ctx is done for the first one only.
func (q *Queue) RecvBatch(ctx context.Context, max int) ([]*Message, error) {
	if max < 1 {
		return nil, &Error{Code: CodeInvalid, Op: "recv_batch", Queue: q.name, Note: "max must be >= 1"}
	}
	cs := make([]C.shmq_msg, max)
	var n C.size_t
	err := q.blocking(ctx, "recv_batch", func(h *C.shmq_queue, ns C.int64_t) C.int {
		return C.shmq_recv_batch(h, &cs[0], C.size_t(max), &n, ns)
	})
	if n == 0 {
		return nil, err
	}
	return q.wrapBatch(cs[:n]), nil
}

// wrapBatch makes Messages of leased receipts, in one allocation with one
// finalizer for the batch.
func (q *Queue) wrapBatch(cs []C.shmq_msg) []*Message {
	ms := make([]Message, len(cs))
	out := make([]*Message, len(cs))
	for i := range cs {
		m := &ms[i]
		m.q, m.c = q, cs[i]
		m.data = C.GoBytes(unsafe.Pointer(cs[i].data), C.int(cs[i].len))
		out[i] = m
	}
	ms[0].batch = len(ms)
	runtime.SetFinalizer(&ms[0], nackDropped)
	return out
}

// slabSize is how many Messages Recv allocates at once.
const slabSize = 64

// newMessage hands out the next Message of the queue's current slab. A
// slab is collected (and its unfinished Messages nacked) once every Message
// in it is unreachable and the queue has moved on to the next slab, which
// it does when the slab is used up or a Recv fails with ErrPrefetch: a
// handle at its prefetch limit because of dropped messages gets them back
// at the next garbage collection.
func (q *Queue) newMessage() *Message {
	q.slabMu.Lock()
	if q.slab == nil || q.slab[0].batch == slabSize {
		q.slab = new([slabSize]Message)
		runtime.SetFinalizer(&q.slab[0], nackDropped)
	}
	first := &q.slab[0]
	m := &q.slab[first.batch]
	first.batch++
	q.slabMu.Unlock()
	m.q = q
	return m
}

func (q *Queue) retireSlab() {
	q.slabMu.Lock()
	q.slab = nil
	q.slabMu.Unlock()
}

// nackDropped runs when a group of Messages (a batch or a slab, the first
// one carrying the count) is garbage-collected: each one still unfinished
// is nacked with the queue's backoff. That also gives back the handle's
// prefetch unit of a lease that recovery reclaimed meanwhile (libshmq
// releases it only when the holder finishes the receipt, with
// ErrLeaseLost), so dropped messages never eat the prefetch limit.
func nackDropped(first *Message) {
	n := first.batch
	if n == 0 {
		n = 1
	}
	batch := unsafe.Slice(first, n)
	for i := range batch {
		if !batch[i].done { // unreachable: no one else reads or writes it now
			_ = batch[i].Nack(-1)
		}
	}
}

// AckBatch acks msgs in one cgo call. Every message is finished either way;
// the error is the first failure (ErrLeaseLost, ErrInvalid for one already
// finished or listed twice, ...).
func (q *Queue) AckBatch(msgs []*Message) error {
	cs := make([]C.shmq_msg, 0, len(msgs))
	var first error
	for _, m := range msgs {
		if err := m.claim(q, &cs); err != nil && first == nil {
			first = err
		}
	}
	if len(cs) == 0 {
		return first
	}
	h, err := q.enter("ack_batch")
	if err != nil {
		return err
	}
	rcs := make([]C.int, len(cs))
	C.shmq_ack_batch(h, &cs[0], C.size_t(len(cs)), &rcs[0]) // each acked on its own, producers woken once
	q.leave()
	for _, rc := range rcs {
		if err := codeErr(rc, "ack_batch", q.name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// claim marks m finished and appends its receipt to cs, for a batch call
// on q; one message at a time, so a message listed twice cannot deadlock.
func (m *Message) claim(q *Queue, cs *[]C.shmq_msg) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || m.q != q {
		return m.misuse("ack_batch", true)
	}
	m.done = true // the batch call spends the receipt, whatever it returns
	*cs = append(*cs, m.c)
	return nil
}
