// bench_test.go - the binding's per-message cost: send + recv + ack of a
// 16-byte message in one goroutine, reported as ns/op and msg/s.
// bindings/bench/bench.py compares it with the C API's (c_loop.c).
package shmq

import (
	"context"
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
