// send.go - Send and SendBatch. Payloads are copied into the queue; a full
// queue makes them wait (up to ctx's deadline) or fail with ErrFull,
// according to the queue's overflow policy.
package shmq

/*
#include <shmq/shmq.h>

// Sends up to 256 of `count` messages packed back to back in buf, with their
// lengths in lens. cgo forbids handing C an array of Go pointers, so the
// iovecs are built here, on the C stack, from one Go buffer.
static int shmq_go_send_packed(shmq_queue *q, const char *buf, const size_t *lens, size_t count,
                               size_t *sent, int64_t timeout_ns) {
    shmq_iov iov[256];
    if (count > 256) count = 256;
    for (size_t i = 0; i < count; ++i) {
        iov[i].data = buf;
        iov[i].len = lens[i];
        buf += lens[i];
    }
    return shmq_send_batch(q, iov, count, sent, timeout_ns);
}
*/
import "C"

import (
	"context"
	"unsafe"
)

// Send copies data into the queue as one message. With no free slot it
// waits until ctx is done (overflow policy Block) or returns ErrFull (Fail).
// On success the message is in shared memory and survives this process.
func (q *Queue) Send(ctx context.Context, data []byte) error {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	n := C.size_t(len(data))
	return q.blocking(ctx, "send", func(h *C.shmq_queue, ns C.int64_t) C.int {
		return C.shmq_send(h, p, n, ns)
	})
}

// SendBatch sends msgs in order and returns how many were sent; the error,
// if any, is the one that stopped it. Consumers are woken once per 256
// messages. The payloads are copied once into a staging buffer first.
func (q *Queue) SendBatch(ctx context.Context, msgs [][]byte) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	buf, lens := pack(msgs)
	done, off := 0, 0
	err := q.blocking(ctx, "send_batch", func(h *C.shmq_queue, ns C.int64_t) C.int {
		var p *C.char
		if off < len(buf) {
			p = (*C.char)(unsafe.Pointer(&buf[off]))
		}
		var sent C.size_t
		rc := C.shmq_go_send_packed(h, p, &lens[done], C.size_t(len(msgs)-done), &sent, ns)
		for i := 0; i < int(sent); i++ {
			off += int(lens[done+i])
		}
		done += int(sent)
		if rc == C.SHMQ_OK && done < len(msgs) {
			return C.SHMQ_ETIMEDOUT // more to send: back through the ctx check
		}
		return rc
	})
	return done, err
}

func pack(msgs [][]byte) ([]byte, []C.size_t) {
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	buf := make([]byte, 0, total)
	lens := make([]C.size_t, len(msgs))
	for i, m := range msgs {
		buf = append(buf, m...)
		lens[i] = C.size_t(len(m))
	}
	return buf, lens
}
