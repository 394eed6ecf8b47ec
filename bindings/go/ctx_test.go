// ctx_test.go - blocking calls honour their context: a deadline yields
// context.DeadlineExceeded on time, cancellation context.Canceled promptly.
package shmq

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRecvDeadline(t *testing.T) {
	q := testQueue(t, testParams())
	for _, d := range []time.Duration{time.Millisecond, 30 * time.Millisecond, 120 * time.Millisecond} {
		start := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(d))
		_, err := q.Recv(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v: err %v", d, err)
		}
		if took < d || took > d+time.Second {
			t.Fatalf("deadline %v returned after %v", d, took)
		}
	}
}

func TestSendDeadlineOnAFullQueue(t *testing.T) {
	p := testParams()
	p.SlotCount = 1
	q := testQueue(t, p)
	q.Send(context.Background(), []byte("fills it"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Send(ctx, []byte("no room")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send: %v", err)
	}
}

func TestRecvCancel(t *testing.T) {
	q := testQueue(t, testParams())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := q.Recv(ctx)
		errc <- err
	}()
	waitUntil(t, 5*time.Second, "the receiver to wait", func() bool {
		s, err := q.Stats()
		return err == nil && s.Clients[0].Sleeping == 1
	})
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("recv: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("recv ignored cancellation")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancellation took %v", d)
	}
}

func TestDoneContextFailsAtOnce(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("ready"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("recv: %v", err)
	}
}
