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
	for i := 0; i < concurrency; i++ {
		c.wg.Add(1)
		go c.worker(run)
	}
	c.loop(run)
	close(c.work)
	c.wg.Wait()
	if c.err != nil {
		return c.err
	}
	return ctx.Err()
}

// consumer leases in batches of up to the free handler slots (one cgo call
// per batch) and hands messages to `concurrency` worker goroutines over a
// channel, so a hand-off costs no cgo call.
type consumer struct {
	q       *Queue
	handler Handler
	slots   chan struct{} // one token per message leased and not yet handled
	work    chan *Message // never blocks: it has room for every token
	stop    context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	err     error
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

func (c *consumer) worker(ctx context.Context) {
	defer c.wg.Done()
	for m := range c.work {
		c.handle(ctx, m)
	}
}

func (c *consumer) handle(ctx context.Context, m *Message) {
	defer func() { <-c.slots }()
	defer func() {
		if r := recover(); r != nil {
			c.fail(&HandlerPanic{Value: r, Stack: debug.Stack(), MessageID: m.ID()})
			_ = m.Nack(-1) // after fail: the loop stops before it could take the retry
		}
	}()
	herr := c.handler(ctx, m)
	if m.Finished() {
		return
	}
	var err error
	if herr == nil {
		err = m.Ack()
	} else {
		err = m.Nack(-1)
	}
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		c.fail(err)
	}
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
