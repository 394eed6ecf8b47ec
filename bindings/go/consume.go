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
	c := consumer{q: q, handler: handler, slots: make(chan struct{}, concurrency), stop: stop}
	c.loop(run)
	c.wg.Wait()
	if c.err != nil {
		return c.err
	}
	return ctx.Err()
}

type consumer struct {
	q       *Queue
	handler Handler
	slots   chan struct{} // one token per running handler
	stop    context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

func (c *consumer) loop(ctx context.Context) {
	for {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		m, err := c.q.Recv(ctx)
		if err != nil {
			<-c.slots
			if ctx.Err() == nil {
				c.fail(err)
			}
			return
		}
		c.wg.Add(1)
		go c.handle(ctx, m)
	}
}

func (c *consumer) handle(ctx context.Context, m *Message) {
	defer c.wg.Done()
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
