// wait.go - blocking calls that honour a context.
//
// libshmq waits on a futex in shared memory, which the Go poller cannot
// watch, and a C call cannot be interrupted. So a blocking call runs the C
// call in slices of at most 50 ms (the last one exactly up to ctx's
// deadline) and checks ctx and Close between slices. Deadlines are exact;
// cancellation and Close take effect within one slice. The readiness fd
// would avoid the slices, but it is one per handle and arms per receive,
// which does not fit many goroutines receiving on one handle; a slice that
// expires costs one spin (20 µs by default) every 50 ms of waiting.
package shmq

// #include <shmq/shmq.h>
import "C"

import (
	"context"
	"fmt"
	"time"
)

const waitSlice = 50 * time.Millisecond

// cCall is one C call with a timeout in nanoseconds.
type cCall func(h *C.shmq_queue, timeoutNs C.int64_t) C.int

// blocking runs call in slices until it stops timing out or ctx is done.
func (q *Queue) blocking(ctx context.Context, op string, call cCall) error {
	for {
		slice := waitSlice
		if deadline, ok := ctx.Deadline(); ok {
			left := time.Until(deadline)
			if left <= 0 {
				return q.ctxErr(op, context.DeadlineExceeded)
			}
			if left < slice {
				slice = left
			}
		}
		select { // not ctx.Err(), which takes a lock in a cancelable context
		case <-ctx.Done():
			return q.ctxErr(op, ctx.Err())
		default:
		}
		h, err := q.enter(op)
		if err != nil {
			return err
		}
		rc := call(h, C.int64_t(slice))
		q.leave()
		if rc != C.SHMQ_ETIMEDOUT {
			return q.err(rc, op)
		}
	}
}

// ctxErr wraps a context error so errors.Is(err, context.DeadlineExceeded)
// and errors.Is(err, context.Canceled) hold.
func (q *Queue) ctxErr(op string, err error) error {
	if q.group != "" {
		return fmt.Errorf("shmq %s %s/%s: %w", op, q.name, q.group, err)
	}
	return fmt.Errorf("shmq %s %s: %w", op, q.name, err)
}
