// headers_test.go - message headers: WithHeaders/WithHeader on Send and
// SendBatch, Message.Headers/Header on Recv, RecvBatch and Consume, kept
// through a nack; bad headers fail with nothing sent; none cost nothing.
package shmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestHeadersTravelWithTheMessage(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	want := map[string]string{"traceparent": trace, "note": "café €", "empty": ""}
	id, err := q.Send(ctx, []byte("x"), WithHeaders(want))
	if err != nil {
		t.Fatal(err)
	}
	m := recvT(t, q)
	if m.ID() != id {
		t.Fatalf("id %d, sent %d", m.ID(), id)
	}
	if err := m.Nack(0); err != nil {
		t.Fatal(err)
	}
	m = recvT(t, q) // a redelivery keeps them
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	got, err := m.Headers() // copied at receive: still there after the ack
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("headers %v (%v), want %v", got, err, want)
	}
	if v, ok := m.Header("traceparent"); !ok || v != trace {
		t.Fatalf("Header(traceparent) = %q %v", v, ok)
	}
	if v, ok := m.Header("missing"); ok || v != "" {
		t.Fatalf("Header(missing) = %q %v", v, ok)
	}
	if v, ok := m.Header("empty"); !ok || v != "" {
		t.Fatalf("Header(empty) = %q %v", v, ok)
	}
}

func TestAMessageWithoutHeadersHasNone(t *testing.T) {
	q := testQueue(t, testParams())
	if _, err := q.Send(context.Background(), []byte("bare")); err != nil {
		t.Fatal(err)
	}
	m := recvT(t, q)
	defer m.Ack()
	if h, err := m.Headers(); h != nil || err != nil {
		t.Fatalf("headers %v %v, want none", h, err)
	}
	if _, ok := m.Header("traceparent"); ok {
		t.Fatal("Header found a key in a message without headers")
	}
}

// WithHeader keeps the order given; the encoded block is in that order.
func TestWithHeaderAddsUpInOrder(t *testing.T) {
	q := testQueue(t, testParams())
	_, err := q.Send(context.Background(), []byte("x"), WithHeader("b", "2"), WithHeaders(map[string]string{"a": "1"}), WithDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	m := recvT(t, q)
	defer m.Ack()
	if string(m.hdrs) != "\x01\x01\x00b2\x01\x01\x00a1" {
		t.Fatalf("block %q, want b then a", m.hdrs)
	}
}

func TestBatchHeadersReachRecvBatchAndConsume(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	msgs := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	h := map[string]string{"tenant": "t1"}
	if ids, err := q.SendBatch(ctx, msgs, WithHeaders(h)); err != nil || len(ids) != 3 {
		t.Fatalf("%v %v", ids, err)
	}
	got, err := q.RecvBatch(ctx, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d %v", len(got), err)
	}
	for _, m := range got {
		if v, _ := m.Header("tenant"); v != "t1" {
			t.Fatalf("%v: tenant %q", m, v)
		}
	}
	if err := q.AckBatch(got); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ { // Consume with one handler (ack + recv in one call) and with four (batches)
		if _, err := q.Send(ctx, []byte{byte(i)}, WithHeader("n", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, conc := range []int{1, 4} {
		var mu sync.Mutex
		bad, seen := 0, 0
		run, cancel := context.WithCancel(ctx)
		err := q.Consume(run, func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			if v, _ := m.Header("n"); v != fmt.Sprint(m.Data()[0]) {
				bad++
			}
			if seen++; seen == 10 {
				cancel()
			}
			return nil
		}, conc)
		if !errors.Is(err, context.Canceled) || bad != 0 {
			t.Fatalf("consume(%d): %v, %d with wrong headers", conc, err, bad)
		}
	}
}

func TestBadHeadersFailAndSendNothing(t *testing.T) {
	q := testQueue(t, testParams()) // 256-byte slots
	ctx := context.Background()
	many := map[string]string{}
	for i := 0; i < 65; i++ {
		many[fmt.Sprint("k", i)] = ""
	}
	for _, c := range []struct {
		name string
		opts []SendOption
		want error
	}{
		{"'=' in a key", []SendOption{WithHeader("a=b", "v")}, ErrInvalid},
		{"a space in a key", []SendOption{WithHeader("a b", "v")}, ErrInvalid},
		{"an empty key", []SendOption{WithHeader("", "v")}, ErrInvalid},
		{"a key of 256 bytes", []SendOption{WithHeader(strings.Repeat("k", 256), "v")}, ErrInvalid},
		{"a key twice", []SendOption{WithHeader("k", "1"), WithHeaders(map[string]string{"k": "2"})}, ErrInvalid},
		{"a NUL in a value", []SendOption{WithHeader("k", "a\x00b")}, ErrInvalid},
		{"a NUL in a key", []SendOption{WithHeader("k\x00", "v")}, ErrInvalid},
		{"a value that is not UTF-8", []SendOption{WithHeader("k", "\xff")}, ErrInvalid},
		{"65 pairs", []SendOption{WithHeaders(many)}, ErrInvalid},
		{"past the slot", []SendOption{WithHeader("k", strings.Repeat("v", 300))}, ErrTooBig},
		{"past 4096 bytes", []SendOption{WithHeader("k", strings.Repeat("v", 5000))}, ErrTooBig},
	} {
		if _, err := q.Send(ctx, []byte("x"), c.opts...); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if ids, err := q.SendBatch(ctx, [][]byte{[]byte("x")}, c.opts...); len(ids) != 0 || !errors.Is(err, c.want) {
			t.Errorf("%s, batch: %v %v, want %v", c.name, ids, err, c.want)
		}
	}
	if s, _ := q.Stats(); s.Enqueued != 0 {
		t.Fatalf("%d enqueued, want 0", s.Enqueued)
	}
}

// A block scribbled in shared memory (a space put into a key) is not
// half-read: Headers says ErrCorrupt and Header finds nothing.
func TestADamagedHeaderBlockIsErrCorrupt(t *testing.T) {
	q := testQueue(t, testParams())
	if _, err := q.Send(context.Background(), []byte("x"), WithHeader("zzkey", "v")); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(segmentPath(q.Name()))
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(seg, []byte("zzkeyv"))
	if at < 0 {
		t.Fatal("the header block is not in the segment")
	}
	poke(t, q.Name(), int64(at+2), []byte(" "))
	m := recvT(t, q)
	defer m.Ack()
	if h, err := m.Headers(); h != nil || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("headers %v %v, want ErrCorrupt", h, err)
	}
	if _, ok := m.Header("zz ey"); ok {
		t.Fatal("Header read a damaged block")
	}
}
