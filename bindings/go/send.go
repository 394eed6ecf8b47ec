// send.go - Send and SendBatch. Payloads are copied into the queue; a full
// queue makes them wait (up to ctx's deadline) or fail with ErrFull,
// according to the queue's overflow policy.
package shmq

/*
#include "shmq_go.h"

// Sends up to 256 of `count` messages packed back to back in buf, with their
// lengths in lens; ids[k] gets each one's id. cgo forbids handing C an array
// of Go pointers, so the iovecs are built here, on the C stack, from one Go
// buffer.
static shmq_go_batch_result shmq_go_send_packed(shmq_go_handle h, const char *buf, const size_t *lens,
                                                size_t count, int64_t delay_ns, int64_t ttl_ns,
                                                const char *hbuf, size_t hcount, uint64_t *ids,
                                                int64_t timeout_ns) {
    shmq_iov iov[256];
    if (count > 256) count = 256;
    for (size_t i = 0; i < count; ++i) {
        iov[i].data = buf;
        iov[i].len = lens[i];
        buf += lens[i];
    }
    shmq_send_opts o;
    shmq_header pairs[SHMQ_MAX_HEADERS];
    shmq_go_opts(&o, pairs, delay_ns, ttl_ns, hbuf, hcount);
    shmq_go_batch_result r;
    r.rc = shmq_send_batch_ex(shmq_go_q(h), iov, count, &o, ids, &r.count, timeout_ns);
    return r;
}
*/
import "C"

import (
	"context"
	"sort"
	"strings"
	"time"
	"unsafe"
)

// MaxDelay is the longest delay a message may have (SHMQ_MAX_DELAY_NS);
// longer ones fail with ErrRange.
const MaxDelay = time.Duration(C.SHMQ_MAX_DELAY_NS)

// MaxTTL is the longest time to live a message or a queue may have
// (SHMQ_MAX_TTL_NS); longer ones fail with ErrRange (ErrInvalid in Params).
const MaxTTL = time.Duration(C.SHMQ_MAX_TTL_NS)

// SendOption sets a per-message option of Send and SendBatch.
type SendOption func(*sendOptions)

type sendOptions struct {
	delay, ttl time.Duration
	headers    []string // key, value, key, value, ... in the order sent
}

// WithDelay stores the message DELAYED: it becomes ready no earlier than d
// after it is stored. A negative d fails with ErrInvalid, one above MaxDelay
// with ErrRange.
func WithDelay(d time.Duration) SendOption { return func(o *sendOptions) { o.delay = d } }

// WithTTL gives the message a time to live: if it is not leased within d
// of becoming ready (after its delay), it is dead-lettered with reason
// "expired" and never delivered. Without it the queue's Params.TTL applies.
// A d <= 0 fails with ErrInvalid, one above MaxTTL with ErrRange.
func WithTTL(d time.Duration) SendOption {
	return func(o *sendOptions) {
		o.ttl = d
		if d <= 0 {
			o.ttl = -2 // refused by libshmq; 0 would mean "the queue's", -1 never
		}
	}
}

// WithoutTTL makes the message never expire, even on a queue whose
// Params.TTL is set.
func WithoutTTL() SendOption {
	return func(o *sendOptions) { o.ttl = time.Duration(C.SHMQ_TTL_NEVER) }
}

// At delays the message until t (none if t has passed).
func At(t time.Time) SendOption {
	return func(o *sendOptions) {
		o.delay = time.Until(t)
		if o.delay < 0 {
			o.delay = 0
		}
	}
}

// WithHeaders carries h with the message (Message.Headers on the consumer's
// side), in the order of their keys. Keys are 1..255 bytes of printable
// ASCII other than '=', values valid UTF-8; at most 64 pairs and 4096 bytes
// encoded, and payload + headers must fit a slot. Otherwise the send fails
// with ErrInvalid or ErrTooBig and nothing is sent. Several WithHeaders and
// WithHeader options add up; a key given twice fails with ErrInvalid.
func WithHeaders(h map[string]string) SendOption {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return func(o *sendOptions) {
		for _, k := range keys {
			o.headers = append(o.headers, k, h[k])
		}
	}
}

// WithHeader carries one header with the message (see WithHeaders).
func WithHeader(key, value string) SendOption {
	return func(o *sendOptions) { o.headers = append(o.headers, key, value) }
}

// cOptions are a send's options as the C helpers take them.
type cOptions struct {
	delay, ttl C.int64_t
	hbuf       *C.char  // pairs packed as key NUL value NUL ..., or nil
	hcount     C.size_t // pairs in hbuf
}

func optionsOf(opts []SendOption) (c cOptions, bad string) {
	if len(opts) == 0 {
		return c, "" // and o below is not allocated
	}
	var o sendOptions
	for _, f := range opts {
		f(&o)
	}
	c.delay, c.ttl = C.int64_t(o.delay), C.int64_t(o.ttl)
	if len(o.headers) == 0 {
		return c, ""
	}
	var buf []byte
	for _, s := range o.headers {
		if strings.IndexByte(s, 0) >= 0 {
			return c, "a header key or value contains a NUL byte"
		}
		buf = append(append(buf, s...), 0)
	}
	c.hbuf, c.hcount = (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(o.headers)/2)
	return c, ""
}

// Send copies data into the queue as one message and returns its id (the
// one a consumer sees in Message.ID). With no free slot it waits until ctx
// is done (overflow policy Block) or returns ErrFull (Fail). On success the
// message is in shared memory and survives this process.
func (q *Queue) Send(ctx context.Context, data []byte, opts ...SendOption) (uint64, error) {
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	n := C.size_t(len(data))
	o, bad := optionsOf(opts)
	if bad != "" {
		return 0, q.invalid("send", bad)
	}
	var r C.shmq_go_send_result // returned by value: nothing escapes per call
	err := q.blocking(ctx, "send", func(h *C.shmq_queue, ns C.int64_t) C.int {
		r = C.shmq_go_send(handle(h), p, n, o.delay, o.ttl, o.hbuf, o.hcount, ns)
		return r.rc
	})
	return uint64(r.id), err
}

// SendBatch sends msgs in order, all with the same options, and returns the
// ids of those sent (as many as were sent); the error, if any, is the one
// that stopped it. Consumers are woken once per 256 messages. The payloads
// are copied once into a staging buffer first.
func (q *Queue) SendBatch(ctx context.Context, msgs [][]byte, opts ...SendOption) ([]uint64, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	o, bad := optionsOf(opts)
	if bad != "" {
		return nil, q.invalid("send_batch", bad)
	}
	buf, lens := pack(msgs)
	ids := make([]uint64, len(msgs)) // C writes them in place: uint64_t is uint64
	done, off := 0, 0
	err := q.blocking(ctx, "send_batch", func(h *C.shmq_queue, ns C.int64_t) C.int {
		var p *C.char
		if off < len(buf) {
			p = (*C.char)(unsafe.Pointer(&buf[off]))
		}
		r := C.shmq_go_send_packed(handle(h), p, &lens[done], C.size_t(len(msgs)-done), o.delay, o.ttl, o.hbuf, o.hcount, (*C.uint64_t)(&ids[done]), ns)
		for i := 0; i < int(r.count); i++ {
			off += int(lens[done+i])
		}
		done += int(r.count)
		if r.rc == C.SHMQ_OK && done < len(msgs) {
			return C.SHMQ_ETIMEDOUT // more to send: back through the ctx check
		}
		return r.rc
	})
	return ids[:done], err
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

func (q *Queue) invalid(op, note string) error {
	return &Error{Code: CodeInvalid, Op: op, Queue: q.name, Group: q.group, Note: note}
}
