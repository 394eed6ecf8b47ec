// batch.go - RecvBatch and AckBatch: one cgo call for many messages, and
// the finalizers that give back the leases of messages dropped unfinished:
// Messages are allocated in groups (a RecvBatch batch, or a slab of 64 that
// Recv hands out one by one) with one finalizer per group, because a
// finalizer per Message would double the cost of Recv + Ack.
package shmq

// #include "shmq_go.h"
import "C"

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// RecvBatch leases up to max messages (at most the handle's prefetch room)
// in one cgo call, waiting until ctx is done for the first one only.
func (q *Queue) RecvBatch(ctx context.Context, max int) ([]*Message, error) {
	if max < 1 {
		return nil, &Error{Code: CodeInvalid, Op: "recv_batch", Queue: q.name, Group: q.group, Note: "max must be >= 1"}
	}
	var cs []C.shmq_go_msg
	var hs []C.shmq_go_hdr
	if max <= scratchLen {
		s := getScratch()
		defer scratch.Put(s)
		cs, hs = s.msgs[:max], s.hdrs[:max]
	} else {
		cs = make([]C.shmq_go_msg, max) // a handle with prefetch 0 (no limit)
		hs = make([]C.shmq_go_hdr, max)
	}
	var n C.size_t
	err := q.blocking(ctx, "recv_batch", func(h *C.shmq_queue, ns C.int64_t) C.int {
		r := C.shmq_go_recv_batch(handle(h), &cs[0], &hs[0], C.size_t(max), ns)
		n = r.count
		return r.rc
	})
	if n == 0 {
		return nil, err
	}
	return q.wrapBatch(cs[:n], hs[:n]), nil
}

// scratch holds the receipts of one batch call: pointer-free memory on the
// heap, reused, for cgo (see shmq_go.h).
const scratchLen = 256

type scratchSpace struct {
	msgs [scratchLen]C.shmq_go_msg
	hdrs [scratchLen]C.shmq_go_hdr
}

var scratch = sync.Pool{New: func() interface{} { return new(scratchSpace) }}

func getScratch() *scratchSpace { return scratch.Get().(*scratchSpace) }

// wrapBatch makes Messages of leased receipts, in one allocation with one
// finalizer for the batch.
func (q *Queue) wrapBatch(cs []C.shmq_go_msg, hs []C.shmq_go_hdr) []*Message {
	ms := make([]Message, len(cs))
	out := make([]*Message, len(cs))
	q.slabMu.Lock()
	for i := range cs {
		m := &ms[i]
		m.q, m.c = q, cs[i]
		m.data = q.copyPayload(&cs[i])
		m.hdrs, m.hrc = copyHeaders(&hs[i])
		out[i] = m
	}
	q.slabMu.Unlock()
	ms[0].batch = len(ms)
	runtime.SetFinalizer(&ms[0], nackDropped)
	return out
}

// slabSize is how many Messages Recv allocates at once.
const slabSize = 64

// newMessage makes the Message of a receipt that Recv leased, from the next
// entry of the queue's current slab. A slab is collected (and its
// unfinished Messages nacked) once every Message in it is unreachable and
// the queue has moved on to the next slab, which it does when the slab is
// used up or a Recv fails with ErrPrefetch: a handle at its prefetch limit
// because of dropped messages gets them back at the next garbage collection.
func (q *Queue) newMessage(c *C.shmq_go_msg, hdr *C.shmq_go_hdr) *Message {
	q.slabMu.Lock()
	if q.slab == nil || q.slab[0].batch == slabSize {
		q.slab = new([slabSize]Message)
		runtime.SetFinalizer(&q.slab[0], nackDropped)
	}
	first := &q.slab[0]
	m := &q.slab[first.batch]
	first.batch++
	m.q, m.c = q, *c
	m.data = q.copyPayload(c)
	m.hdrs, m.hrc = copyHeaders(hdr)
	q.slabMu.Unlock()
	return m
}

// Payloads of up to smallPayload bytes are copied into blocks of
// payloadBlock bytes, one allocation for many messages.
const (
	smallPayload = 256
	payloadBlock = 4096
)

// copyPayload copies c's payload into Go memory; q.slabMu must be held.
func (q *Queue) copyPayload(c *C.shmq_go_msg) []byte {
	n := int(c.len)
	src := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&c.data))), n) // a C pointer
	if n > smallPayload {
		return append([]byte(nil), src...)
	}
	if len(q.block) < n {
		q.block = make([]byte, payloadBlock)
	}
	b := q.block[:n:n] // full slice: an append to it copies, never writes the next payload
	q.block = q.block[n:]
	copy(b, src)
	return b
}

// copyHeaders copies a leased message's header block into Go memory (no
// allocation when it has none).
func copyHeaders(h *C.shmq_go_hdr) ([]byte, C.int) {
	if h.rc != C.SHMQ_OK || h.len == 0 {
		return nil, h.rc
	}
	src := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&h.block))), int(h.len)) // a C pointer
	return append([]byte(nil), src...), C.SHMQ_OK
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

// AckBatch acks msgs in one cgo call per 256. Every message is finished
// either way; the error is the first failure (ErrLeaseLost, ErrInvalid for
// one already finished or listed twice, ...).
func (q *Queue) AckBatch(msgs []*Message) error {
	s := getScratch()
	defer scratch.Put(s)
	cs := &s.msgs
	var first error
	for len(msgs) > 0 {
		n := 0
		for len(msgs) > 0 && n < scratchLen {
			if err := msgs[0].claim(q, &cs[n], "ack_batch"); err != nil {
				if first == nil {
					first = err
				}
			} else {
				n++
			}
			msgs = msgs[1:]
		}
		if err := q.ackClaimed(cs[:n]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ackClaimed acks receipts claimed from their Messages in one cgo call.
func (q *Queue) ackClaimed(cs []C.shmq_go_msg) error {
	if len(cs) == 0 {
		return nil
	}
	h, err := q.enter("ack_batch")
	if err != nil {
		return err
	}
	rc := C.shmq_go_ack_batch(handle(h), &cs[0], C.size_t(len(cs))) // producers woken once
	q.leave()
	return q.err(rc, "ack_batch")
}

// claim marks m finished and copies its receipt to c, for a call on q that
// finishes it (op); one message at a time, so a message listed twice in a
// batch cannot deadlock.
func (m *Message) claim(q *Queue, c *C.shmq_go_msg, op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || m.q != q {
		return m.misuse(op, true)
	}
	m.done = true // the batch call spends the receipt, whatever it returns
	*c = m.c
	return nil
}
