// queue.go - a handle on one queue: open, create, close, unlink, and the
// discipline every C call follows (a read lock that Close waits for).
package shmq

// #include "shmq_go.h"
// #include <stdlib.h>
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Queue is one process's handle on one queue. It is safe for concurrent use.
// Close it when done; a finalizer closes a forgotten handle as a backstop.
type Queue struct {
	name        string        // the queue's or the topic's
	group       string        // the consumer group of a handle from OpenGroup, else ""
	maxGroups   uint32        // > 0: a topic's handle (publishes) or a group's
	dedupWindow time.Duration // > 0: sends may carry deduplication keys
	prefetch    uint32
	mu          sync.RWMutex // held shared by every C call, exclusively by Close
	h           *C.shmq_queue
	slabMu      sync.Mutex
	slab        *[slabSize]Message // where Recv takes its next Message (newMessage)
	block       []byte             // where small payloads are copied (copyPayload)
}

// checkName refuses what libshmq would refuse, and a NUL byte, which C
// would read as the end of the name.
func checkName(op, name string) error {
	if strings.IndexByte(name, 0) < 0 {
		cname := C.CString(name)
		rc := C.shmq_name_check(cname)
		C.free(unsafe.Pointer(cname))
		if rc == C.SHMQ_OK {
			return nil
		}
	}
	return &Error{Code: CodeBadName, Op: op, Queue: fmt.Sprintf("%q", name),
		Note: "names are 1-64 of [A-Za-z0-9._-], not only dots"}
}

// Open attaches to the existing queue name.
func Open(name string, opts ...Option) (*Queue, error) {
	if err := checkName("open", name); err != nil {
		return nil, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	o := optionsToC(opts)
	var h *C.shmq_queue
	rc, errno := C.shmq_open(cname, &o, &h)
	if err := codeErrno(rc, errno, "open", name); err != nil {
		return nil, err
	}
	q := newQueue(name, h, uint32(o.prefetch))
	return q, q.readKind()
}

// Create makes queue name with params (start from DefaultParams()) and
// attaches to it. It fails with ErrExists if the queue exists.
func Create(name string, params Params, opts ...Option) (*Queue, error) {
	if err := checkName("create", name); err != nil {
		return nil, err
	}
	if err := params.Validate(); err != nil {
		err.(*Error).Queue = name
		return nil, err
	}
	p, ok := params.toC()
	if !ok {
		return nil, &Error{Code: CodeInvalid, Op: "create", Queue: name, Note: "duration out of range"}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	o := optionsToC(opts)
	var h *C.shmq_queue
	rc, errno := C.shmq_create(cname, &p, &o, &h)
	if err := codeErrno(rc, errno, "create", name); err != nil {
		return nil, err
	}
	q := newQueue(name, h, uint32(o.prefetch))
	q.maxGroups, q.dedupWindow = params.MaxGroups, params.DedupWindow
	return q, nil
}

func newQueue(name string, h *C.shmq_queue, prefetch uint32) *Queue {
	q := &Queue{name: name, prefetch: prefetch, h: h}
	runtime.SetFinalizer(q, (*Queue).Close)
	return q
}

// Unlink removes queue name. Handles open on it keep working until closed
// (their calls then return ErrClosed); new opens get ErrNotFound.
func Unlink(name string) error {
	if err := checkName("unlink", name); err != nil {
		return err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	rc, errno := C.shmq_unlink(cname)
	return codeErrno(rc, errno, "unlink", name)
}

// Name is the queue's name.
func (q *Queue) Name() string { return q.name }

// Close detaches from the queue; leases still held go back to it (their
// attempt counts). It waits for calls in progress on other goroutines, which
// end within one wait slice (50 ms) with ErrClosed. Closing twice, or a nil
// *Queue, is fine.
func (q *Queue) Close() error {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.h != nil {
		C.shmq_close(q.h)
		q.h = nil
		runtime.SetFinalizer(q, nil)
	}
	return nil
}

// Params returns the queue's parameters as stored in its segment.
func (q *Queue) Params() (Params, error) {
	h, err := q.enter("params")
	if err != nil {
		return Params{}, err
	}
	defer q.leave()
	var c C.shmq_params
	if err := q.err(C.shmq_get_params(h, &c), "params"); err != nil {
		return Params{}, err
	}
	return paramsFromC(&c), nil
}

// enter takes the shared lock for one C call; leave releases it.
func (q *Queue) enter(op string) (*C.shmq_queue, error) {
	q.mu.RLock()
	if q.h == nil {
		q.mu.RUnlock()
		return nil, &Error{Code: CodeClosed, Op: op, Queue: q.name, Group: q.group, Note: "handle closed"}
	}
	return q.h, nil
}

func (q *Queue) leave() { q.mu.RUnlock() }

// handle is h for the helpers of shmq_go.h, which take it as an integer.
func handle(h *C.shmq_queue) C.shmq_go_handle { return C.shmq_go_handle(uintptr(unsafe.Pointer(h))) }
