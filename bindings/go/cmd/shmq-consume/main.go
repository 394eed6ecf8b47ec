// Command shmq-consume consumes messages from a queue with the Go binding,
// for the cross-language test and as a small example.
//
//	shmq-consume -queue NAME -n N [-c 1] [-timeout 30s]   ack N messages, print "acked N"
//	shmq-consume -queue NAME -hold                 lease one, print its id and its headers (JSON), wait to be killed
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"shmq.dev/shmq"
)

func main() {
	queue := flag.String("queue", "", "queue name")
	n := flag.Int64("n", 0, "messages to consume and ack")
	hold := flag.Bool("hold", false, "lease one message and wait to be killed")
	concurrency := flag.Int("c", 1, "handlers running at once")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	q, err := shmq.Open(*queue)
	if err != nil {
		fail(err)
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *hold {
		holdOne(ctx, q)
	}
	fmt.Println("acked", consume(ctx, q, *n, *concurrency))
}

// consume acks n messages with c handlers and returns how many it acked.
func consume(ctx context.Context, q *shmq.Queue, n int64, c int) int64 {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var acked atomic.Int64
	err := q.Consume(ctx, func(context.Context, *shmq.Message) error {
		if acked.Add(1) >= n { // counted before Consume's ack; it acks before returning
			stop()
		}
		return nil
	}, c)
	if err != nil && ctx.Err() == nil {
		fail(err)
	}
	return acked.Load()
}

func holdOne(ctx context.Context, q *shmq.Queue) {
	m, err := q.Recv(ctx)
	if err != nil {
		fail(err)
	}
	fmt.Println(m.ID())
	h, err := m.Headers()
	if err != nil {
		fail(err)
	}
	if h == nil {
		h = map[string]string{}
	}
	b, _ := json.Marshal(h)
	fmt.Println(string(b))
	for {
		time.Sleep(time.Hour) // hold the lease until killed
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "shmq-consume:", err)
	os.Exit(1)
}
