// Command inventory is the order pipeline's inventory worker: it consumes
// order.created events from the consumer group "inventory" of the shmq topic
// "orders" (or from a queue: -queue, as the warehouse of the RabbitMQ variant
// does) and appends one stock movement per item to OUTBOX/inventory.log.
//
// shmq delivers at least once (a worker killed before its ack gets the
// message redelivered), so the worker is idempotent by order id: the log
// records which orders were applied, and a redelivered order is acked
// without being written again.
//
//	inventory -outbox DIR [-topic orders -group inventory | -queue NAME] [-concurrency 4] [-fsync]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"unicode"

	"shmq.dev/shmq"
)

// order is the part of an order.created event the inventory needs; the
// other fields (user_id, email, locale, created_at) are for other workers.
type order struct {
	Event   string `json:"event"`
	OrderID string `json:"order_id"`
	Items   []item `json:"items"`
}

type item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// worker handles messages; its counters make the summary printed at exit.
type worker struct {
	log                           *ledger
	applied, duplicates, rejected atomic.Int64
}

func main() {
	topic := flag.String("topic", "orders", "topic whose consumer group to consume")
	group := flag.String("group", "inventory", "consumer group of -topic")
	queue := flag.String("queue", "", "a queue to consume instead of -topic's group")
	outbox := flag.String("outbox", "", "directory of inventory.log (required)")
	concurrency := flag.Int("concurrency", 4, "handlers running at once")
	fsync := flag.Bool("fsync", false, "fsync the log after each order")
	flag.Parse()
	if *outbox == "" || *concurrency < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	led, err := openLedger(*outbox, *fsync)
	if err != nil {
		fatal(err)
	}
	defer led.close()
	q, source := openSource(*queue, *topic, *group)
	fmt.Fprintf(os.Stderr, "inventory: consuming %s (pid %d)\n", source, os.Getpid())
	w := &worker{log: led}
	// SIGTERM or SIGINT cancels ctx: Consume stops receiving, waits for the
	// running handlers (which ack their messages) and returns context.Canceled.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = q.Consume(ctx, w.handle, *concurrency)
	q.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		fatal(err)
	}
	w.summary()
}

// openSource attaches to the queue if one is named, else to the topic's
// group; shmqd creates both from the example's config. It returns the
// handle and what it consumes, for the log.
func openSource(queue, topic, group string) (*shmq.Queue, string) {
	var q *shmq.Queue
	var err error
	source := queue
	if queue != "" {
		q, err = shmq.Open(queue)
	} else {
		source = topic + "/" + group
		q, err = shmq.OpenGroup(topic, group)
	}
	if errors.Is(err, shmq.ErrNotFound) {
		err = fmt.Errorf("%w (is shmqd running with the example's config?)", err)
	}
	if err != nil {
		fatal(fmt.Errorf("%s: %w", source, err))
	}
	return q, source
}

// handle applies one order. Returning nil makes Consume ack the message,
// an error makes it nack (retry with the queue's backoff).
func (w *worker) handle(_ context.Context, m *shmq.Message) error {
	o, err := parseOrder(m.Data())
	if err != nil {
		// Permanent failure: a malformed order fails the same way on every
		// retry, so dead-letter it now instead of burning the attempts.
		logf("message %d rejected: %v", m.ID(), err)
		if rerr := m.Reject(); rerr != nil {
			return rerr // m is finished either way; Consume leaves it
		}
		w.rejected.Add(1)
		return nil
	}
	applied, err := w.log.apply(o)
	if err != nil {
		logf("order %s: %v (nacked)", o.OrderID, err)
		return err // nothing of the order is in the log: a retry is safe
	}
	if !applied {
		logf("order %s already applied (delivery %d), acked", o.OrderID, m.Attempt())
		w.duplicates.Add(1)
		return nil
	}
	// Consume acks only now, after the write returned: a crash before the
	// ack redelivers the order, and the log turns that into a duplicate.
	w.applied.Add(1)
	if tp, ok := m.Header("traceparent"); ok {
		logf("traceparent %s: %s applied", tp, o.OrderID)
	}
	return nil
}

// parseOrder decodes and validates an event; its error is the reason.
func parseOrder(data []byte) (*order, error) {
	var o order
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("bad JSON: %v", err)
	}
	switch {
	case o.Event != "order.created":
		return nil, fmt.Errorf("event %q, want order.created", o.Event)
	case !isToken(o.OrderID):
		return nil, fmt.Errorf("bad order_id %q", o.OrderID)
	case len(o.Items) == 0:
		return nil, fmt.Errorf("order %s has no items", o.OrderID)
	}
	for i, it := range o.Items {
		if !isToken(it.SKU) || it.Qty < 1 {
			return nil, fmt.Errorf("order %s item %d: bad sku %q or qty %d", o.OrderID, i, it.SKU, it.Qty)
		}
	}
	return &o, nil
}

// isToken: non-empty, no whitespace, so a log line splits back into fields.
func isToken(s string) bool {
	return s != "" && strings.IndexFunc(s, unicode.IsSpace) < 0
}

// summary prints the counts, the worker's one line of stdout.
func (w *worker) summary() {
	fmt.Printf("{\"worker\":\"inventory\",\"applied\":%d,\"duplicates\":%d,\"rejected\":%d}\n",
		w.applied.Load(), w.duplicates.Load(), w.rejected.Load())
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "inventory: "+format+"\n", args...)
}

func fatal(err error) {
	logf("%v", err)
	os.Exit(1)
}
