// dedup.go - deduplication keys on Send and SendBatch (WithDedupKey,
// WithDedupKeys) and how a caller learns that a send was a duplicate
// (Duplicate, Duplicates: options that point at the result, as grpc's
// Header(&md) does, so Send keeps its (id, error) for every caller).
package shmq

// #include <shmq/shmq.h>
import "C"

import (
	"errors"
	"unsafe"
)

// WithDedupKey gives the message a deduplication key (1 .. MaxDedupKey
// bytes): if a message with this key was sent within the queue's
// Params.DedupWindow, nothing is stored and Send returns that first
// message's id (Duplicate tells it apart). A queue without a window, a
// topic, or a key of another length is ErrInvalid; a table full of live
// keys ErrDedupFull; nothing is sent then. Send only (SendBatch:
// WithDedupKeys).
func WithDedupKey(key string) SendOption { return func(o *sendOptions) { o.key = &key } }

// WithDedupKeys gives SendBatch's messages one deduplication key each
// (keys[i] for msgs[i], "" for none; len(keys) must be len(msgs)), as
// WithDedupKey does for Send.
func WithDedupKeys(keys []string) SendOption { return func(o *sendOptions) { o.keys = keys } }

// Duplicate makes Send set *dup: true if the send, WithDedupKey, found its
// key inside the queue's window and stored nothing (the id returned is the
// first message's), false if it stored the message.
func Duplicate(dup *bool) SendOption { return func(o *sendOptions) { o.duplicate = dup } }

// Duplicates makes SendBatch set *dups to one flag per message sent (as
// Duplicate does for Send), also when it fails part-way.
func Duplicates(dups *[]bool) SendOption { return func(o *sendOptions) { o.duplicates = dups } }

// checkKeyed says what is wrong with a send's deduplication options ("" if
// nothing): a key on a queue without a window or a topic, or the other send
// form's options (own: no option of the other form was given).
func (q *Queue) checkKeyed(keyed, own bool, others string) string {
	switch {
	case !own:
		return "options of " + others
	case !keyed || q.dedupWindow > 0:
		return ""
	case q.maxGroups > 0:
		return "the topic has no deduplication window (Params.DedupWindow): it takes no dedup keys"
	}
	return "the queue has no deduplication window (Params.DedupWindow): it takes no dedup keys"
}

// dedupErr adds what to do to ErrDedupFull.
func (q *Queue) dedupErr(err error) error {
	if err == nil {
		return nil // before errors.As, whose target would escape: no allocation per send
	}
	var e *Error
	if errors.As(err, &e) && e.Code == CodeDedupFull {
		e.Note = "the table is full of keys still in their window: nothing was sent; retry later, or create the queue with a larger Params.DedupCapacity"
	}
	return err
}

// keyBatch is a batch's deduplication keys packed for the C helper, and
// the duplicate flags it writes; the zero value is a batch without keys.
type keyBatch struct {
	buf  []byte
	lens []C.size_t
	dups []C.uint8_t
	off  int // where the keys of the next message to send begin in buf
}

func keyBatchOf(keys []string, n int) *keyBatch {
	ks := &keyBatch{}
	if keys == nil {
		return ks
	}
	ks.lens = make([]C.size_t, n)
	for i, k := range keys {
		ks.buf = append(ks.buf, k...)
		ks.lens[i] = C.size_t(len(k))
	}
	ks.dups = make([]C.uint8_t, n)
	return ks
}

// at is what the C helper takes for the messages from index done on.
func (ks *keyBatch) at(done int) (*C.char, *C.size_t, *C.uint8_t) {
	if ks.lens == nil {
		return nil, nil, nil
	}
	var kbuf *C.char
	if ks.off < len(ks.buf) {
		kbuf = (*C.char)(unsafe.Pointer(&ks.buf[ks.off]))
	}
	return kbuf, &ks.lens[done], &ks.dups[done]
}

func (ks *keyBatch) advance(done, sent int) {
	for i := 0; ks.lens != nil && i < sent; i++ {
		ks.off += int(ks.lens[done+i])
	}
}

// flags are the duplicate flags of the first n messages (all false without keys).
func (ks *keyBatch) flags(n int) []bool {
	out := make([]bool, n)
	for i := 0; ks.dups != nil && i < n; i++ {
		out[i] = ks.dups[i] != 0
	}
	return out
}
