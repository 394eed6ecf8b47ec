// consume_test.go - Consume acks on nil, nacks on error, nacks and reports
// a panic, leaves messages the handler finished itself, and stops with ctx.
package shmq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConsumeAcksAndNacks(t *testing.T) {
	q := testQueue(t, testParams())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q.SendBatch(ctx, [][]byte{[]byte("ok"), []byte("fail once"), []byte("ok too")})
	var mu sync.Mutex
	seen := map[string][]int{}
	handler := func(_ context.Context, m *Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(m.Data())] = append(seen[string(m.Data())], m.Attempt())
		if string(m.Data()) == "fail once" && m.Attempt() == 1 {
			return errors.New("transient")
		}
		if len(seen["ok"])+len(seen["ok too"])+len(seen["fail once"]) == 4 {
			cancel()
		}
		return nil
	}
	if err := q.Consume(ctx, handler, 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("consume: %v", err)
	}
	if len(seen["ok"]) != 1 || len(seen["ok too"]) != 1 || len(seen["fail once"]) != 2 ||
		seen["fail once"][1] != 2 {
		t.Fatalf("deliveries %v", seen)
	}
	s, _ := q.Stats()
	if s.Acked != 3 || s.Nacked != 1 || s.Free != uint64(s.SlotCount) {
		t.Fatalf("stats %+v", s)
	}
}

func TestConsumeReportsAPanicAndNacks(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("boom"))
	err := q.Consume(context.Background(), func(context.Context, *Message) error {
		panic("handler bug")
	}, 1) // with more, another handler may take the retry before Consume stops
	var hp *HandlerPanic
	if !errors.As(err, &hp) || hp.Value != "handler bug" || len(hp.Stack) == 0 {
		t.Fatalf("consume: %v", err)
	}
	m := recvT(t, q) // nacked, so back at once (backoff base 0)
	if string(m.Data()) != "boom" || m.Attempt() != 2 || m.ID() != hp.MessageID {
		t.Fatalf("redelivered %q attempt %d", m.Data(), m.Attempt())
	}
	m.Ack()
}

func TestConsumeLeavesMessagesTheHandlerFinished(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("dead"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q.Consume(ctx, func(_ context.Context, m *Message) error {
		defer cancel()
		m.Reject()
		return errors.New("ignored: already rejected")
	}, 1)
	s, _ := q.Stats()
	if s.Rejected != 1 || s.Nacked != 0 || s.Dead != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConsumeStopsOnDeadline(t *testing.T) {
	q := testQueue(t, testParams())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Consume(ctx, func(context.Context, *Message) error { return nil }, 3)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("consume: %v after %v", err, time.Since(start))
	}
}

// Many handlers on one handle: every message is handled and acked once.
// (Stats().Acked is not checked: libshmq's per-handle counters are plain
// stores, exact only while one thread at a time uses a handle.)
func TestConsumeConcurrentlyAcksEverything(t *testing.T) {
	p := testParams()
	p.SlotCount = 4096
	q := testQueue(t, p)
	const n = 64 * 320
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		for sent := 0; sent < n; sent += 64 {
			if _, err := q.SendBatch(ctx, make([][]byte, 64)); err != nil {
				return
			}
		}
	}()
	var handled atomic.Int64
	err := q.Consume(ctx, func(context.Context, *Message) error {
		if handled.Add(1) == n {
			cancel()
		}
		return nil
	}, 8)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("consume: %v", err)
	}
	s, _ := q.Stats()
	if handled.Load() != n || s.Free != uint64(s.SlotCount) {
		t.Fatalf("handled %d of %d, free slots %d of %d", handled.Load(), n, s.Free, s.SlotCount)
	}
}

// With one handler, the ack of a handled message and the receive of the next
// share a cgo call: with prefetch 1 the ack must come first (or the receive
// fails with ErrPrefetch), the last one is acked when ctx ends Consume, and a
// queue found empty in between is waited on. The second half is sent from
// the handler of the 10th message, so the receive after it usually waits.
func TestConsumeOneHandlerAcksBeforeTheNextReceive(t *testing.T) {
	q := testQueue(t, testParams(), WithPrefetch(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sendN(t, q, 10)
	var handled int
	sent := make(chan error, 1)
	err := q.Consume(ctx, func(_ context.Context, m *Message) error {
		handled++
		switch handled {
		case 3:
			return errors.New("nack me") // redelivered at once (backoff base 0)
		case 5:
			return m.Reject() // finished by the handler: Consume leaves it
		case 10:
			go func() { _, err := q.SendBatch(ctx, make([][]byte, 10)); sent <- err }()
		case 21:
			cancel()
		}
		return nil
	}, 1)
	if !errors.Is(err, context.Canceled) || handled != 21 {
		t.Fatalf("consume: %v after %d", err, handled)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	s, _ := q.Stats()
	if s.Acked != 19 || s.Nacked != 1 || s.Rejected != 1 || s.Leased != 0 || s.Ready != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Several handlers lease their next message themselves: still never more
// leases at once than handlers (nor than the prefetch limit), and each
// message is finished on its own: an error nacks it (redelivered, attempt
// 2), a handler's own Reject is left alone, the rest are acked.
func TestConsumeSeveralHandlersLeaseNoMoreThanThereAreHandlers(t *testing.T) {
	for _, c := range []struct{ prefetch, concurrency, most int }{{64, 3, 3}, {2, 4, 2}} {
		q := testQueue(t, testParams(), WithPrefetch(uint32(c.prefetch)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		const n = 60
		sendN(t, q, n)
		var mu sync.Mutex
		most, handled, retried := 0, 0, 0
		err := q.Consume(ctx, func(_ context.Context, m *Message) error {
			s, _ := q.Stats()
			mu.Lock()
			defer mu.Unlock()
			if int(s.Leased) > most {
				most = int(s.Leased)
			}
			handled++
			if m.Attempt() == 2 {
				retried++
			}
			if handled == n+n/10 { // every message, plus the retries of the nacked ones
				cancel()
			}
			switch {
			case m.Attempt() == 1 && m.ID()%10 == 3:
				return errors.New("nack me") // redelivered at once (backoff base 0)
			case m.ID()%10 == 5:
				return m.Reject()
			}
			return nil
		}, c.concurrency)
		cancel()
		s, _ := q.Stats()
		if !errors.Is(err, context.Canceled) || most > c.most || retried != n/10 {
			t.Fatalf("%+v: %v; at most %d leased (want <= %d), %d retried", c, err, most, c.most, retried)
		}
		if s.Dead != n/10 || s.Leased != 0 || s.Ready != 0 || s.Free != uint64(s.SlotCount)-n/10 {
			t.Fatalf("%+v: stats %+v", c, s)
		}
	}
}
