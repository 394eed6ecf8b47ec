// hotpath_test.go - what makes Send, Recv and Ack cheap keeps them correct:
// no allocation per message, payloads sharing blocks that never overlap,
// batches larger than one cgo call's scratch.
package shmq

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// Fails on the code before shmq_go.h: 6 allocations per Send + Recv + Ack
// (the cgo checks of the handle, the id, the options, the payload copy).
func TestSendRecvAckAllocatesNothingPerMessage(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	payload := make([]byte, 16)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := q.Send(ctx, payload); err != nil {
			t.Fatal(err)
		}
		m, err := q.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs >= 1 { // the slab and payload blocks come once per many messages
		t.Fatalf("%v allocations per message", allocs)
	}
}

// Payloads of every size around the small-payload limit, received one by one
// and in batches, come back intact, and appending to one never writes into
// the payload next to it in its block.
func TestPayloadsShareBlocksWithoutOverlap(t *testing.T) {
	p := testParams()
	p.SlotSize = 1024
	q := testQueue(t, p)
	ctx := context.Background()
	var want [][]byte
	for n := 0; n <= smallPayload+8; n += 7 {
		want = append(want, bytes.Repeat([]byte{byte(n)}, n))
	}
	for round, batch := range []bool{false, true} {
		for start := 0; start < len(want); start += 32 {
			end := start + 32
			if end > len(want) {
				end = len(want)
			}
			if _, err := q.SendBatch(ctx, want[start:end]); err != nil {
				t.Fatal(err)
			}
			got := recvAll(t, q, end-start, batch)
			for _, m := range got {
				_ = append(m.Data(), 0xEE, 0xEE, 0xEE) // must not land in the next payload
			}
			for i, m := range got {
				if !bytes.Equal(m.Data(), want[start+i]) {
					t.Fatalf("round %d message %d: %d bytes %x, want %d", round, start+i, len(m.Data()), m.Data(), len(want[start+i]))
				}
			}
			if err := q.AckBatch(got); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func recvAll(t *testing.T, q *Queue, n int, batch bool) []*Message {
	t.Helper()
	var got []*Message
	for len(got) < n {
		if batch {
			ms, err := q.RecvBatch(context.Background(), n-len(got))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ms...)
			continue
		}
		got = append(got, recvT(t, q))
	}
	return got
}

// A batch beyond one call's scratch (256 receipts): RecvBatch on a handle
// without prefetch limit leases them all, AckBatch acks them in two calls.
func TestBatchesLargerThanTheScratch(t *testing.T) {
	const n = 300
	p := testParams()
	p.SlotCount = 512
	q := testQueue(t, p, WithPrefetch(0))
	sendN(t, q, n)
	msgs, err := q.RecvBatch(context.Background(), n)
	if err != nil || len(msgs) != n {
		t.Fatalf("recv_batch: %d, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if want := []byte(fmt.Sprint(i)); !bytes.Equal(m.Data(), want) {
			t.Fatalf("message %d: %q", i, m.Data())
		}
	}
	if err := q.AckBatch(msgs); err != nil {
		t.Fatal(err)
	}
	if s, _ := q.Stats(); s.Acked != n || s.Leased != 0 {
		t.Fatalf("stats %+v", s)
	}
}
