// queue_test.go - round trips, batches, message metadata, finishing
// messages, params, stats, and the life of a handle (Close, ErrClosed).
package shmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

func recvT(t *testing.T, q *Queue) *Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := q.Recv(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	before := time.Now()
	for _, s := range []string{"hello", "", "\x00bin\x00"} {
		if _, err := q.Send(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var lastID uint64
	for _, want := range []string{"hello", "", "\x00bin\x00"} {
		m := recvT(t, q)
		if string(m.Data()) != want || m.Attempt() != 1 || m.ID() <= lastID {
			t.Fatalf("got %q attempt %d id %d", m.Data(), m.Attempt(), m.ID())
		}
		lastID = m.ID()
		if d := m.EnqueuedAt().Sub(before); d < -time.Second || d > 5*time.Second {
			t.Fatalf("enqueued at %v, sent at %v", m.EnqueuedAt(), before)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Data(), []byte(want)) { // the copy outlives the lease
			t.Fatal("data changed after ack")
		}
	}
}

func TestSendBatchKeepsOrderAcrossChunks(t *testing.T) {
	p := testParams()
	p.SlotCount = 512
	q := testQueue(t, p)
	var msgs [][]byte
	for i := 0; i < 300; i++ {
		msgs = append(msgs, []byte(fmt.Sprint(i)))
	}
	msgs[7] = nil // empty messages are fine
	ids, err := q.SendBatch(context.Background(), msgs)
	if err != nil || len(ids) != 300 {
		t.Fatalf("sent %d: %v", len(ids), err)
	}
	for i := 0; i < 300; i++ {
		m := recvT(t, q)
		if !bytes.Equal(m.Data(), msgs[i]) || m.ID() != ids[i] {
			t.Fatalf("message %d: got %q id %d, sent with id %d", i, m.Data(), m.ID(), ids[i])
		}
		m.Ack()
	}
}

func TestSendBatchStopsWhenFull(t *testing.T) {
	p := testParams()
	p.SlotCount = 4
	p.Overflow = OverflowFail
	q := testQueue(t, p)
	ids, err := q.SendBatch(context.Background(), [][]byte{{1}, {2}, {3}, {4}, {5}, {6}})
	if len(ids) != 4 || !errors.Is(err, ErrFull) {
		t.Fatalf("sent %d, err %v; want 4, ErrFull", len(ids), err)
	}
}

func TestNackRetriesAndRejectDeadLetters(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("again"))
	first := recvT(t, q)
	if err := first.Nack(-1); err != nil { // backoff base 0: ready at once
		t.Fatal(err)
	}
	second := recvT(t, q)
	if second.ID() != first.ID() || second.Attempt() != 2 {
		t.Fatalf("redelivery: id %d attempt %d", second.ID(), second.Attempt())
	}
	if err := second.Extend(time.Minute); err != nil || second.Lease() != time.Minute {
		t.Fatalf("extend: %v, lease %v", err, second.Lease())
	}
	if err := second.Reject(); err != nil {
		t.Fatal(err)
	}
	if err := second.Ack(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second finish: %v", err)
	}
	s, _ := q.Stats()
	if s.Dead != 1 || s.Rejected != 1 || s.Nacked != 1 || s.Redelivered != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestParamsAndStats(t *testing.T) {
	p := testParams()
	p.Lease = 2500 * time.Millisecond
	p.MaxClients = 8
	p.Jitter = JitterEqual
	q := testQueue(t, p)
	got, err := q.Params()
	if err != nil || got != p {
		t.Fatalf("params %+v, want %+v (%v)", got, p, err)
	}
	q.SendBatch(context.Background(), [][]byte{{1}, {2}, {3}})
	held := recvT(t, q)
	recvT(t, q).Ack()
	s, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.SlotCount != 64 || s.Free != 62 || s.Ready != 1 || s.Leased != 1 || s.Enqueued != 3 ||
		s.Acked != 1 || s.ClientsMax != 8 || s.DaemonHeartbeatAge != -1 || s.OldestReadyAge <= 0 {
		t.Fatalf("stats %+v", s)
	}
	if len(s.Clients) != 1 || s.Clients[0].PID != os.Getpid() || s.Clients[0].Leased != 1 ||
		s.Clients[0].Alive != 1 || s.Clients[0].Sent != 3 || s.Clients[0].Role != RoleSender|RoleReceiver {
		t.Fatalf("clients %+v", s.Clients)
	}
	held.Ack()
}

func TestCloseIsIdempotentAndEndsUse(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("x"))
	m := recvT(t, q)
	if q.Close() != nil || q.Close() != nil {
		t.Fatal("close failed")
	}
	if _, err := q.Send(context.Background(), []byte("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := m.Ack(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ack after close: %v", err)
	}
	again, err := Open(q.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if m := recvT(t, again); string(m.Data()) != "x" { // Close gave the lease back
		t.Fatalf("got %q", m.Data())
	}
}

func TestCloseEndsABlockedRecv(t *testing.T) {
	q := testQueue(t, testParams())
	errc := make(chan error, 1)
	go func() {
		_, err := q.Recv(context.Background())
		errc <- err
	}()
	waitUntil(t, 5*time.Second, "the receiver to wait", func() bool {
		s, err := q.Stats()
		return err == nil && s.Clients[0].Sleeping == 1
	})
	start := time.Now()
	q.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("recv: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("recv still blocked after Close")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("close took %v", d)
	}
}

func TestLibraryVersionIsThePackages(t *testing.T) {
	if got := LibraryVersion(); got != Version {
		t.Fatalf("libshmq says %s, the package is %s", got, Version)
	}
}
