// ledger.go - inventory.log, one line per item: "<order_id> <sku> -<qty> <i>/<n>".
// The log is both the worker's output and its record of applied orders.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ledger appends orders to the log, each at most once. The seen set lives in
// this process's memory, so only one process may append to a log at a time
// (the example runs one inventory worker); the mutex covers the goroutines
// of that one process.
type ledger struct {
	mu    sync.Mutex
	f     *os.File // O_APPEND: every write lands at the end
	size  int64    // bytes of complete orders in the log
	fsync bool
	seen  map[string]bool
}

// openLedger opens dir/inventory.log, creating it if missing, and loads
// the ids of the orders it holds.
func openLedger(dir string, fsync bool) (*ledger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "inventory.log"), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	l := &ledger{f: f, fsync: fsync, seen: map[string]bool{}}
	if err := l.load(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// load reads the order ids and cuts off what a crash tore: a final line
// without its newline, and a final order with fewer lines than its "i/n"
// says (a SIGKILL can end a write early, between two lines).
func (l *ledger) load() error {
	r := bufio.NewReader(l.f)
	var last tail // the log's last order
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break // line is "" or a torn tail
		}
		if err != nil {
			return err
		}
		id, i, n := splitLine(line)
		if id != last.id || i == 1 {
			last = tail{id: id, start: l.size}
		}
		last.lines, last.want = last.lines+1, n
		l.size += int64(len(line))
		l.seen[id] = true
	}
	if last.lines != last.want {
		delete(l.seen, last.id)
		l.size = last.start
	}
	return l.f.Truncate(l.size)
}

// tail tracks the last order read: where it starts and how many lines it has.
type tail struct {
	id          string
	start       int64
	lines, want int
}

// splitLine parses "<order_id> <sku> -<qty> <i>/<n>"; i and n are 0 in a
// line that does not parse (then the order counts as incomplete).
func splitLine(line string) (id string, i, n int) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", 0, 0
	}
	if len(f) == 4 {
		fmt.Sscanf(f[3], "%d/%d", &i, &n)
	}
	return f[0], i, n
}

// apply appends the order's lines unless the order is already in the log;
// false means it was (a redelivery).
func (l *ledger) apply(o *order) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[o.OrderID] {
		return false, nil
	}
	var b strings.Builder
	for i, it := range o.Items {
		fmt.Fprintf(&b, "%s %s -%d %d/%d\n", o.OrderID, it.SKU, it.Qty, i+1, len(o.Items))
	}
	// One write of the whole order: a kill -9 leaves all of its lines or none.
	n, err := l.f.WriteString(b.String())
	if err == nil && l.fsync {
		err = l.f.Sync()
	}
	if err != nil {
		// Cut back a partial write (ENOSPC, ...) so the retry starts clean.
		_ = l.f.Truncate(l.size)
		return false, err
	}
	l.size += int64(n)
	l.seen[o.OrderID] = true
	return true, nil
}

func (l *ledger) close() error { return l.f.Close() }
