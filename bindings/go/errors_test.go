// errors_test.go - every sentinel error that a program can run into is
// reached through the real library and matches with errors.Is.
package shmq

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func expectErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Error() == "" {
		t.Fatalf("%v is not an *Error", err)
	}
}

// closedQueue makes a queue with no handle open on it.
func closedQueue(t *testing.T) string {
	name := uniqueName("closed")
	q, err := Create(name, testParams())
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	t.Cleanup(func() { Unlink(name) })
	return name
}

func poke(t *testing.T, name string, off int64, b []byte) {
	f, err := os.OpenFile(segmentPath(name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestSentinelsMatchByCode(t *testing.T) {
	err := &Error{Code: CodeFull, Op: "send", Queue: "q"}
	if !errors.Is(err, ErrFull) || errors.Is(err, ErrEmpty) {
		t.Fatal("errors.Is does not match on Code")
	}
	for _, e := range []*Error{ErrFull, ErrTimeout, ErrEmpty, ErrLeaseLost, ErrClosed, ErrInvalid, ErrBadName,
		ErrTooBig, ErrNotFound, ErrExists, ErrVersion, ErrCorrupt, ErrPermission, ErrNoSpace, ErrTooManyClients,
		ErrPrefetch, ErrInterrupted, ErrSystem, ErrRange, ErrBusy, ErrDedupFull, ErrFlush, ErrRebooted} {
		if e.Code.String() == "unknown shmq error" {
			t.Fatalf("no description for code %d", e.Code)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(uniqueName("missing"))
	expectErr(t, err, ErrNotFound)
	expectErr(t, Unlink(uniqueName("missing")), ErrNotFound)
	_, err = Open("bad/name")
	expectErr(t, err, ErrBadName)
	q := testQueue(t, testParams())
	_, err = Create(q.Name(), testParams())
	expectErr(t, err, ErrExists)
}

func TestCreateErrors(t *testing.T) {
	p := testParams()
	p.SlotSize = 0
	_, err := Create(uniqueName("inval"), p)
	expectErr(t, err, ErrInvalid)
	p = testParams()
	p.Lease = -time.Second
	_, err = Create(uniqueName("inval"), p)
	expectErr(t, err, ErrInvalid)
	p = testParams()
	p.SlotSize, p.SlotCount = 1<<30, 1<<24
	_, err = Create(uniqueName("huge"), p)
	expectErr(t, err, ErrNoSpace)
}

func TestDamagedSegments(t *testing.T) {
	name := closedQueue(t)
	poke(t, name, 8, binary.LittleEndian.AppendUint32(nil, 999)) // Header::layout_version
	_, err := Open(name)
	expectErr(t, err, ErrVersion)
	name = closedQueue(t)
	poke(t, name, 0, binary.LittleEndian.AppendUint64(nil, 0xdeadbeef)) // Header::magic
	_, err = Open(name)
	expectErr(t, err, ErrCorrupt)
	name = closedQueue(t)
	link := uniqueName("link")
	if err := os.Symlink(segmentPath(name), segmentPath(link)); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(segmentPath(link))
	_, err = Open(link)
	expectErr(t, err, ErrPermission)
}

func TestQueueErrors(t *testing.T) {
	p := testParams()
	p.SlotSize, p.SlotCount, p.MaxClients, p.Overflow = 8, 1, 2, OverflowFail
	q := testQueue(t, p, WithPrefetch(1))
	ctx := context.Background()
	_, err := q.Send(ctx, make([]byte, 9))
	expectErr(t, err, ErrTooBig)
	q.Send(ctx, []byte("1"))
	_, err = q.Send(ctx, []byte("2"))
	expectErr(t, err, ErrFull)
	m, _ := q.Recv(ctx)
	_, err = q.Recv(ctx)
	expectErr(t, err, ErrPrefetch)
	m.Ack()
	other, err := Open(q.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = Open(q.Name())
	expectErr(t, err, ErrTooManyClients)
	Unlink(q.Name())
	_, err = q.Send(ctx, []byte("x"))
	expectErr(t, err, ErrClosed)
}

func TestLeaseLost(t *testing.T) {
	p := testParams()
	p.Lease = 20 * time.Millisecond
	q := testQueue(t, p)
	q.Send(context.Background(), []byte("x"))
	m, _ := q.Recv(context.Background())
	waitUntil(t, 10*time.Second, "the lease to be reclaimed", func() bool {
		q.Recover()
		s, _ := q.Stats()
		return s.Leased == 0
	})
	expectErr(t, m.Ack(), ErrLeaseLost)
	if !m.Finished() {
		t.Fatal("a lost lease leaves the message unfinished")
	}
}

func TestSystemErrorKeepsErrno(t *testing.T) {
	dir := os.Getenv("SHMQ_DIR")
	file := dir + "/plain-file"
	os.WriteFile(file, nil, 0o600)
	os.Setenv("SHMQ_DIR", file)
	_, err := Open(uniqueName("x"))
	os.Setenv("SHMQ_DIR", dir)
	expectErr(t, err, ErrSystem)
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("errno lost: %v", err)
	}
}
