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
// Deduplication keys, if klens is not NULL, come the same way (kbuf, klens;
// a length 0 is a message without one), and dups[k] gets whether message k
// was a duplicate.
static shmq_go_batch_result shmq_go_send_packed(shmq_go_handle h, const char *buf, const size_t *lens,
                                                size_t count, int64_t delay_ns, int64_t ttl_ns,
                                                const char *hbuf, size_t hcount, const char *kbuf,
                                                const size_t *klens, uint8_t *dups, uint64_t *ids,
                                                int64_t timeout_ns) {
    shmq_iov iov[256], keys[256];
    if (count > 256) count = 256;
    for (size_t i = 0; i < count; ++i) {
        iov[i].data = buf;
        iov[i].len = lens[i];
        buf += lens[i];
        if (klens == NULL) continue;
        keys[i].data = klens[i] > 0 ? kbuf : NULL;
        keys[i].len = klens[i];
        kbuf += klens[i];
    }
    shmq_send_opts o;
    shmq_header pairs[SHMQ_MAX_HEADERS];
    shmq_go_opts(&o, pairs, delay_ns, ttl_ns, hbuf, hcount);
    if (klens != NULL) {
        o.dedup_keys = keys;
        o.duplicate_out = dups;
    }
    shmq_go_batch_result r;
    r.rc = shmq_send_batch_ex(shmq_go_q(h), iov, count, &o, ids, &r.count, timeout_ns);
    return r;
}
*/
import "C"

import (
	"context"
	"fmt"
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
	key        *string  // WithDedupKey's
	keys       []string // WithDedupKeys'
	duplicate  *bool    // Duplicate's
	duplicates *[]bool  // Duplicates'
	sync       bool     // WithSync's
}

// WithSync makes Send and SendBatch wait, once the message(s) are stored,
// until they are on disk, as Queue.Sync does (one flush serves every
// producer waiting at once), within the same ctx. A DurabilityMemory queue
// has nothing more durable: no wait. If that wait fails (ErrFlush, or ctx's
// error), the id(s) are returned with the error: the messages ARE queued and
// will be delivered, but are not confirmed on disk. An error with id 0 (no
// ids) is the send's own: nothing was stored.
func WithSync() SendOption { return func(o *sendOptions) { o.sync = true } }

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
	key        []byte   // Send's deduplication key, or nil
	keys       []string // SendBatch's, or nil
	duplicate  *bool
	duplicates *[]bool
	sync       bool
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
	c.keys, c.duplicate, c.duplicates, c.sync = o.keys, o.duplicate, o.duplicates, o.sync
	if o.key != nil {
		if len(*o.key) < 1 || len(*o.key) > MaxDedupKey {
			return c, fmt.Sprintf("a dedup key must be 1 .. %d bytes, got %d", MaxDedupKey, len(*o.key))
		}
		c.key = []byte(*o.key)
	}
	for _, k := range o.keys {
		if len(k) > MaxDedupKey {
			return c, fmt.Sprintf("a dedup key must be 1 .. %d bytes (\"\": none), got %d", MaxDedupKey, len(k))
		}
	}
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
	if bad == "" {
		bad = q.checkKeyed(o.key != nil, o.keys == nil && o.duplicates == nil, "SendBatch's: WithDedupKeys, Duplicates")
	}
	if bad != "" {
		return 0, q.invalid("send", bad)
	}
	var key unsafe.Pointer
	if o.key != nil {
		key = unsafe.Pointer(&o.key[0])
	}
	var r C.shmq_go_send_result // returned by value: nothing escapes per call
	err := q.blocking(ctx, "send", func(h *C.shmq_queue, ns C.int64_t) C.int {
		r = C.shmq_go_send(handle(h), p, n, o.delay, o.ttl, o.hbuf, o.hcount, key, C.size_t(len(o.key)), ns)
		return r.rc
	})
	if o.duplicate != nil {
		*o.duplicate = err == nil && r.duplicate != 0
	}
	if err == nil && o.sync {
		return uint64(r.id), q.Sync(ctx) // an error here: stored, not confirmed (WithSync)
	}
	return uint64(r.id), q.dedupErr(err)
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
	if bad == "" && o.keys != nil && len(o.keys) != len(msgs) {
		bad = fmt.Sprintf("WithDedupKeys has %d keys for %d messages: give one per message (\"\" for none)", len(o.keys), len(msgs))
	}
	if bad == "" {
		bad = q.checkKeyed(o.keys != nil, o.key == nil && o.duplicate == nil, "Send's: WithDedupKey, Duplicate")
	}
	if bad != "" {
		return nil, q.invalid("send_batch", bad)
	}
	buf, lens := pack(msgs)
	ks := keyBatchOf(o.keys, len(msgs))
	ids := make([]uint64, len(msgs)) // C writes them in place: uint64_t is uint64
	done, off := 0, 0
	err := q.blocking(ctx, "send_batch", func(h *C.shmq_queue, ns C.int64_t) C.int {
		var p *C.char
		if off < len(buf) {
			p = (*C.char)(unsafe.Pointer(&buf[off]))
		}
		kbuf, klens, dups := ks.at(done)
		r := C.shmq_go_send_packed(handle(h), p, &lens[done], C.size_t(len(msgs)-done), o.delay, o.ttl, o.hbuf, o.hcount, kbuf, klens, dups, (*C.uint64_t)(&ids[done]), ns)
		for i := 0; i < int(r.count); i++ {
			off += int(lens[done+i])
		}
		ks.advance(done, int(r.count))
		done += int(r.count)
		if r.rc == C.SHMQ_OK && done < len(msgs) {
			return C.SHMQ_ETIMEDOUT // more to send: back through the ctx check
		}
		return r.rc
	})
	if o.duplicates != nil {
		*o.duplicates = ks.flags(done)
	}
	if err == nil && o.sync {
		return ids[:done], q.Sync(ctx) // an error here: all stored, none confirmed (WithSync)
	}
	return ids[:done], q.dedupErr(err)
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
