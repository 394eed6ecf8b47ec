// consume.go - Consume: receive in a loop and run a handler per message,
// go-nsq style: a nil return acks, an error nacks with the queue's backoff.
package shmq

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
)

// Handler processes one message. Returning nil acks it, an error nacks it
// (retry with the queue's backoff). A handler may finish the message itself
// (for example Nack with its own delay or Reject); Consume then leaves it.
type Handler func(ctx context.Context, m *Message) error

// Consume receives messages and runs handler on up to concurrency of them
// at once (capped at the handle's prefetch limit), until ctx is done or
// something fails. It returns after every running handler has returned:
// ctx's error when ctx ended it; the queue's error (ErrClosed, ...) if
// receiving failed; a *HandlerPanic if a handler panicked. A panicking
// handler's message is nacked first, and the panic stops Consume rather
// than the process, so the caller decides what to do with it.
// A lost lease on ack or nack (ErrLeaseLost) is not an error here: the
// message is redelivered, as at-least-once delivery allows.
//
// Consume never leases a message before a handler is free for it (a lease
// taken ahead would count a delivery, and giving it back a retry). A
// handler that has finished a message acks it and leases its next one
// itself, in one cgo call, while messages are ready; only when none is
// ready does it go idle. One goroutine waits for messages for the idle
// handlers: it leases as many as there are idle ones in one cgo call
// (RecvBatch) and hands them over a channel. With concurrency 1 the
// handler runs on the receiving goroutine itself.
func (q *Queue) Consume(ctx context.Context, handler Handler, concurrency int) error {
	if concurrency < 1 {
		concurrency = 1
	}
	if q.prefetch != 0 && uint32(concurrency) > q.prefetch {
		concurrency = int(q.prefetch)
	}
	run, stop := context.WithCancel(ctx)
	defer stop()
	c := consumer{q: q, handler: handler, slots: make(chan struct{}, concurrency), stop: stop,
		work: make(chan *Message, concurrency)}
	if concurrency == 1 {
		c.inline(run)
	} else {
		for i := 0; i < concurrency; i++ {
			c.wg.Add(1)
			go c.worker(run)
		}
		c.loop(run)
		close(c.work)
		c.wg.Wait()
	}
	if c.err != nil {
		return c.err
	}
	return ctx.Err()
}

// consumer runs `concurrency` worker goroutines, which ack a handled
// message and lease the next in one cgo call while messages are ready, and
// one loop that waits for messages for the idle ones (a hand-off over a
// channel costs no cgo call).
type consumer struct {
	q       *Queue
	handler Handler
	slots   chan struct{} // one token per message leased and not yet finished
	work    chan *Message // never blocks: it has room for every token
	stop    context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

// inline is Consume with one handler: receive, handle, ack, on this
// goroutine (no hand-off at all). The ack of a handled message and the
// receive of the next go in one cgo call (ackThenRecv).
func (c *consumer) inline(ctx context.Context) {
	done := ctx.Done()
	var handled *Message // to ack before the next receive
	for {
		m, err := c.next(ctx, handled)
		handled = nil
		if err != nil {
			if ctx.Err() == nil {
				c.fail(err)
			}
			return
		}
		if c.err != nil { // the ack failed: stop, and give m back
			_ = m.Nack(0)
			return
		}
		if c.handle(ctx, m) {
			handled = m
		}
		select {
		case <-done:
			if handled != nil {
				c.acked(handled.Ack())
			}
			return
		default:
		}
	}
}

// next acks handled, if any, and receives the next message.
func (c *consumer) next(ctx context.Context, handled *Message) (*Message, error) {
	if handled == nil {
		return c.q.Recv(ctx)
	}
	m, ackErr, err := c.q.ackThenRecv(ctx, handled)
	c.acked(ackErr)
	return m, err
}

// acked records an ack's failure; a lost lease is not one (the message
// comes back: at-least-once).
func (c *consumer) acked(err error) {
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		c.fail(err)
	}
}

func (c *consumer) loop(ctx context.Context) {
	for {
		n := c.takeSlots(ctx)
		if n == 0 {
			return
		}
		msgs, err := c.q.RecvBatch(ctx, n)
		for i := len(msgs); i < n; i++ {
			<-c.slots
		}
		if err != nil {
			if ctx.Err() == nil {
				c.fail(err)
			}
			return
		}
		for _, m := range msgs {
			c.work <- m
		}
	}
}

// takeSlots waits for one free slot, then takes every other free one; 0
// once ctx is done.
func (c *consumer) takeSlots(ctx context.Context) int {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < cap(c.slots) {
		select {
		case c.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

// worker runs the handler on messages handed over by the loop, and on the
// ones it leases itself after each (serve) until none is ready. Once ctx
// is done, a message still in the channel (leased for this worker, not yet
// handled) is nacked for immediate redelivery instead.
func (c *consumer) worker(ctx context.Context) {
	defer c.wg.Done()
	for m := range c.work {
		if ctx.Err() != nil {
			_ = m.Nack(0)
			<-c.slots
			continue
		}
		for m != nil {
			m = c.serve(ctx, m)
		}
	}
}

// serve handles m, then acks it and leases the next message in one cgo
// call; it returns that message, or nil once none is ready (or ctx is done,
// or receiving failed), having given back m's slot.
func (c *consumer) serve(ctx context.Context, m *Message) *Message {
	var handled *Message
	if c.handle(ctx, m) {
		handled = m
	}
	select {
	case <-ctx.Done(): // lease nothing more
		if handled != nil {
			c.acked(handled.Ack())
		}
		<-c.slots
		return nil
	default:
	}
	next, ackErr, err := c.q.ackThenTryRecv(handled)
	c.acked(ackErr)
	if next == nil {
		if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrPrefetch) && ctx.Err() == nil {
			c.fail(err)
		}
		<-c.slots
	}
	return next
}

// handle runs the handler on m; true if m is to be acked (the handler
// returned nil and left m unfinished). It nacks m itself otherwise.
func (c *consumer) handle(ctx context.Context, m *Message) (ack bool) {
	defer func() {
		if r := recover(); r != nil {
			c.fail(&HandlerPanic{Value: r, Stack: debug.Stack(), MessageID: m.ID()})
			_ = m.Nack(-1) // after fail: the loop stops before it could take the retry
			ack = false
		}
	}()
	herr := c.handler(ctx, m)
	if m.Finished() {
		return false
	}
	if herr == nil {
		return true
	}
	if err := m.Nack(-1); err != nil && !errors.Is(err, ErrLeaseLost) {
		c.fail(err)
	}
	return false
}

// fail records the first error and stops the loop.
func (c *consumer) fail(err error) {
	c.once.Do(func() {
		c.err = err
		c.stop()
	})
}

// Messages leases messages in batches of up to n and delivers them on the
// returned channel, for select loops. The channel closes when ctx is done
// or receiving fails (ErrClosed, ...; use RecvBatch to see the error).
// Messages leased but not delivered when ctx ends are nacked; each one
// delivered must be finished by the receiver.
func (q *Queue) Messages(ctx context.Context, n int) <-chan *Message {
	out := make(chan *Message)
	go func() {
		defer close(out)
		for {
			msgs, err := q.RecvBatch(ctx, n)
			if err != nil {
				return
			}
			for i, m := range msgs {
				select {
				case out <- m:
				case <-ctx.Done():
					for _, left := range msgs[i:] {
						_ = left.Nack(-1)
					}
					return
				}
			}
		}
	}()
	return out
}
