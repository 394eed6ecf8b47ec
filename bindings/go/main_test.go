// main_test.go - test setup: a private SHMQ_DIR per test run, unique queue
// names, condition waits with deadlines, and the helper-process entry point
// (the test binary re-executed with SHMQ_GO_HELPER set).
package shmq

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("SHMQ_GO_HELPER"); mode != "" {
		os.Exit(runHelper(mode, os.Getenv("SHMQ_GO_HELPER_QUEUE")))
	}
	base := os.Getenv("SHMQ_DIR")
	if base != "" {
		if err := os.MkdirAll(base, 0o700); err != nil {
			panic(err)
		}
	}
	dir, err := os.MkdirTemp(base, "shmq-go-")
	if err != nil {
		panic(err)
	}
	os.Setenv("SHMQ_DIR", dir) // cgo: also the C environment libshmq reads
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var names atomic.Int64

func uniqueName(tag string) string {
	return fmt.Sprintf("go%d.%d.%s", os.Getpid(), names.Add(1), tag)
}

func segmentPath(name string) string { return os.Getenv("SHMQ_DIR") + "/shmq." + name }

// testParams are small queues that retry at once.
func testParams() Params {
	p := DefaultParams()
	p.SlotSize = 256
	p.SlotCount = 64
	p.BackoffBase = 0
	return p
}

// testQueue creates a fresh queue, closed and unlinked when the test ends.
func testQueue(t testing.TB, p Params, opts ...Option) *Queue {
	t.Helper()
	name := uniqueName("t")
	q, err := Create(name, p, opts...)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() {
		q.Close()
		Unlink(name)
	})
	return q
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
