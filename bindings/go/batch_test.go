// batch_test.go - RecvBatch and AckBatch, the Messages channel, dropped
// messages giving back their prefetch unit, and the ergonomics (Params
// validated per field, nil Close, Message.String, names with NUL).
package shmq

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sendN(t *testing.T, q *Queue, n int) {
	t.Helper()
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = []byte(fmt.Sprint(i))
	}
	if ids, err := q.SendBatch(context.Background(), msgs); err != nil || len(ids) != n {
		t.Fatalf("sent %d: %v", len(ids), err)
	}
}

func TestRecvBatchAndAckBatch(t *testing.T) {
	q := testQueue(t, testParams())
	sendN(t, q, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := q.RecvBatch(ctx, 4)
	if err != nil || len(msgs) != 4 || string(msgs[0].Data()) != "0" || string(msgs[3].Data()) != "3" {
		t.Fatalf("batch %v: %v", msgs, err)
	}
	if err := q.AckBatch(msgs); err != nil {
		t.Fatal(err)
	}
	if err := q.AckBatch(msgs[:1]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second ack: %v", err)
	}
	if err := q.AckBatch(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	rest, err := q.RecvBatch(ctx, 100)
	if err != nil || len(rest) != 6 {
		t.Fatalf("rest %d: %v", len(rest), err)
	}
	if err := q.AckBatch(append(rest, rest[0])); !errors.Is(err, ErrInvalid) { // listed twice
		t.Fatalf("duplicate: %v", err)
	}
	if s, _ := q.Stats(); s.Acked != 10 || s.Leased != 0 || s.Free != s.SlotCount {
		t.Fatalf("stats %+v", s)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := q.RecvBatch(short, 8); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("empty queue: %v", err)
	}
}

// Fails without the finalizer: the handle kept the prefetch unit of the
// reclaimed lease and Recv returned ErrPrefetch for ever.
func TestDroppedMessageGivesBackItsPrefetchUnit(t *testing.T) {
	p := testParams()
	p.Lease = 50 * time.Millisecond
	q := testQueue(t, p, WithPrefetch(1))
	sendN(t, q, 2)
	func() { recvT(t, q) }() // dropped unfinished
	waitUntil(t, 10*time.Second, "the lease to be reclaimed", func() bool {
		_, _ = q.Recover()
		s, _ := q.Stats()
		return s.Leased == 0
	})
	var m *Message
	waitUntil(t, 10*time.Second, "a receive within the prefetch limit", func() bool {
		runtime.GC()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		var err error
		m, err = q.Recv(ctx)
		return err == nil
	})
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
}

func TestMessagesChannel(t *testing.T) {
	q := testQueue(t, testParams())
	sendN(t, q, 5)
	ctx, cancel := context.WithCancel(context.Background())
	ch := q.Messages(ctx, 2)
	for i := 0; i < 5; i++ {
		select {
		case m := <-ch:
			if string(m.Data()) != fmt.Sprint(i) {
				t.Fatalf("message %d: %q", i, m.Data())
			}
			_ = m.Ack()
		case <-time.After(10 * time.Second):
			t.Fatal("no message on the channel")
		}
	}
	cancel()
	for range ch { // closes once ctx is done
	}
	if s, _ := q.Stats(); s.Acked != 5 || s.Leased != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestParamsLiteralNamesTheField(t *testing.T) {
	_, err := Create(uniqueName("lit"), Params{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Params.SlotSize") {
		t.Fatalf("Params{}: %v", err)
	}
	p := DefaultParams()
	p.Mode = 0o666
	if _, err := Create(uniqueName("mode"), p); !strings.Contains(fmt.Sprint(err), "Params.Mode") {
		t.Fatalf("mode: %v", err)
	}
	p = DefaultParams()
	p.BackoffBase = time.Hour
	if _, err := Create(uniqueName("base"), p); !strings.Contains(fmt.Sprint(err), "Params.BackoffBase") {
		t.Fatalf("backoff: %v", err)
	}
}

func TestErgonomics(t *testing.T) {
	var nilQ *Queue
	if err := nilQ.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders\x00evil", "\x00"} {
		if _, err := Open(name); !errors.Is(err, ErrBadName) {
			t.Fatalf("open %q: %v", name, err)
		}
		if err := Unlink(name); !errors.Is(err, ErrBadName) {
			t.Fatalf("unlink %q: %v", name, err)
		}
	}
	q := testQueue(t, testParams())
	sendN(t, q, 1)
	m := recvT(t, q)
	want := fmt.Sprintf("shmq.Message{id=%d attempt=1 size=1 leased}", m.ID())
	if got := fmt.Sprint(m); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	_ = m.Ack()
}
