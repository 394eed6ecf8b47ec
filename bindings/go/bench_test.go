// bench_test.go - the binding's per-message cost: send + recv + ack of a
// 16-byte message in one goroutine, reported as ns/op and msg/s.
// bindings/bench/bench.py compares it with the C API's (c_loop.c).
package shmq

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkSendRecvAck(b *testing.B) {
	p := DefaultParams()
	q := testQueue(b, p)
	ctx := context.Background()
	payload := make([]byte, 16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := q.Send(ctx, payload); err != nil {
			b.Fatal(err)
		}
		m, err := q.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Ack(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

func BenchmarkSendBatchRecvAck(b *testing.B) {
	q := testQueue(b, DefaultParams())
	ctx := context.Background()
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = make([]byte, 16)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += len(batch) {
		if n := b.N - i; n < len(batch) {
			batch = batch[:n]
		}
		if _, err := q.SendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for range batch {
			m, err := q.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			m.Ack()
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

// BenchmarkConsume: Consume with 1 and 4 handlers draining a queue that a
// goroutine keeps filled in batches, next to a plain Recv + Ack loop.
func BenchmarkConsume(b *testing.B) {
	for _, c := range []int{0, 1, 4} {
		name := fmt.Sprintf("concurrency=%d", c)
		if c == 0 {
			name = "recv-loop"
		}
		b.Run(name, func(b *testing.B) { benchConsume(b, c) })
	}
}

func benchConsume(b *testing.B, concurrency int) {
	p := DefaultParams()
	p.SlotSize, p.SlotCount = 64, 4096
	q := testQueue(b, p, WithPrefetch(256))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // the producer
		batch := make([][]byte, 64)
		for i := range batch {
			batch[i] = make([]byte, 64)
		}
		for sent := 0; sent < b.N && ctx.Err() == nil; sent += len(batch) {
			q.SendBatch(ctx, batch)
		}
	}()
	b.ResetTimer()
	start := time.Now()
	if concurrency == 0 {
		for i := 0; i < b.N; i++ {
			m, err := q.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			m.Ack()
		}
	} else {
		var got atomic.Int64
		q.Consume(ctx, func(context.Context, *Message) error {
			if got.Add(1) == int64(b.N) {
				stop()
			}
			return nil
		}, concurrency)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}
