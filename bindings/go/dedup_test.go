package shmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func dedupParams() Params {
	p := testParams()
	p.DedupWindow = time.Minute
	return p
}

func TestARepeatedKeyReturnsTheFirstIDAndStoresNothing(t *testing.T) {
	q := testQueue(t, dedupParams())
	ctx := context.Background()
	var dup1, dup2 bool
	first, err := q.Send(ctx, []byte("order 42"), WithDedupKey("order-42"), Duplicate(&dup1))
	if err != nil {
		t.Fatal(err)
	}
	again, err := q.Send(ctx, []byte("order 42, retried"), WithDedupKey("order-42"), Duplicate(&dup2))
	if err != nil || again != first || dup1 || !dup2 {
		t.Fatalf("second send: id %d (first %d), dup %v then %v, err %v", again, first, dup1, dup2, err)
	}
	if s, _ := q.Stats(); s.Ready != 1 {
		t.Fatalf("%d ready, want 1", s.Ready)
	}
	if p, _ := q.Params(); p.DedupWindow != time.Minute || p.DedupCapacity < 2*p.SlotCount {
		t.Fatalf("params %+v", p)
	}
	m := recvT(t, q)
	if m.ID() != first || string(m.Data()) != "order 42" {
		t.Fatalf("got %v %q", m, m.Data())
	}
	m.Ack()
}

func TestSendBatchTakesOneKeyPerMessage(t *testing.T) {
	q := testQueue(t, dedupParams())
	ctx := context.Background()
	old, _ := q.Send(ctx, []byte("old"), WithDedupKey("b"))
	var dups []bool
	msgs := [][]byte{[]byte("1"), []byte("2"), []byte("3"), []byte("4")}
	ids, err := q.SendBatch(ctx, msgs, WithDedupKeys([]string{"a", "b", "", "a"}), Duplicates(&dups))
	if err != nil || len(ids) != 4 {
		t.Fatal(ids, err)
	}
	if want := []bool{false, true, false, true}; !equalBools(dups, want) {
		t.Fatalf("duplicates %v, want %v", dups, want)
	}
	if ids[1] != old || ids[3] != ids[0] {
		t.Fatalf("ids %v (old %d)", ids, old)
	}
	got, err := q.RecvBatch(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, m := range got {
		data = append(data, string(m.Data()))
	}
	if strings.Join(data, ",") != "old,1,3" {
		t.Fatalf("stored %v", data)
	}
	q.AckBatch(got)
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBadDedupOptionsSendNothing(t *testing.T) {
	q := testQueue(t, dedupParams())
	ctx := context.Background()
	one := [][]byte{[]byte("x")}
	var dup bool
	var dups []bool
	long := strings.Repeat("k", MaxDedupKey+1)
	for _, c := range []struct {
		what string
		err  error
		note string
	}{
		{"empty key", sendErr(q.Send(ctx, []byte("x"), WithDedupKey(""))), "1 .. 128 bytes, got 0"},
		{"long key", sendErr(q.Send(ctx, []byte("x"), WithDedupKey(long))), "got 129"},
		{"long batch key", batchErr(q.SendBatch(ctx, one, WithDedupKeys([]string{long}))), "got 129"},
		{"key count", batchErr(q.SendBatch(ctx, one, WithDedupKeys([]string{"a", "b"}))), "2 keys for 1 messages"},
		{"batch keys on Send", sendErr(q.Send(ctx, []byte("x"), WithDedupKeys([]string{"a"}))), "SendBatch's"},
		{"Duplicates on Send", sendErr(q.Send(ctx, []byte("x"), Duplicates(&dups))), "SendBatch's"},
		{"key on SendBatch", batchErr(q.SendBatch(ctx, one, WithDedupKey("a"))), "Send's"},
		{"Duplicate on SendBatch", batchErr(q.SendBatch(ctx, one, Duplicate(&dup))), "Send's"},
	} {
		if !errors.Is(c.err, ErrInvalid) || !strings.Contains(c.err.Error(), c.note) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", c.what, c.err, c.note)
		}
	}
	if _, err := q.Send(ctx, []byte("x"), WithDedupKey(long[:MaxDedupKey])); err != nil {
		t.Fatalf("a key of %d bytes: %v", MaxDedupKey, err)
	}
	if s, _ := q.Stats(); s.Ready != 1 {
		t.Fatalf("%d ready, want only the good send", s.Ready)
	}
}

func sendErr(_ uint64, err error) error    { return err }
func batchErr(_ []uint64, err error) error { return err }

func TestAQueueOrTopicWithoutAWindowRefusesKeys(t *testing.T) {
	q := testQueue(t, testParams())
	_, err := q.Send(context.Background(), []byte("x"), WithDedupKey("k"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "DedupWindow") {
		t.Fatalf("no window: %v", err)
	}
	p := testParams()
	p.MaxGroups = 2
	topic := testQueue(t, p)
	if err := topic.AddGroup("g"); err != nil {
		t.Fatal(err)
	}
	_, err = topic.SendBatch(context.Background(), [][]byte{[]byte("x")}, WithDedupKeys([]string{"k"}))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "topic has no deduplication window") {
		t.Fatalf("topic: %v", err)
	}
}

func TestACapacityWithoutAWindowAndASpillQueueOfOneSlotAreRefused(t *testing.T) {
	lone := testParams()
	lone.DedupCapacity = 64
	spill := testParams()
	spill.Overflow, spill.SlotCount = OverflowSpill, 1
	spillTopic := spill
	spillTopic.MaxGroups = 2
	for _, c := range []struct {
		p    Params
		note string
	}{{lone, "needs a DedupWindow"}, {spill, "SlotCount 2 or more"}, {spillTopic, "SlotCount 2 or more"}} {
		name := uniqueName("combo")
		q, err := Create(name, c.p)
		if err == nil {
			q.Close()
			Unlink(name)
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.note) {
			t.Fatalf("%+v: %v", c.p, err)
		}
	}
	spill.SlotCount = 2 // the least that works
	testQueue(t, spill)
}

func TestATopicWithAWindowPublishesAKeyOnceToEveryGroup(t *testing.T) {
	p := dedupParams()
	p.MaxGroups = 2
	topic := testQueue(t, p)
	ctx := context.Background()
	for _, g := range []string{"a", "b"} {
		if err := topic.AddGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	var dup1, dup2 bool
	first, err := topic.Send(ctx, []byte("x"), WithDedupKey("k"), Duplicate(&dup1))
	if err != nil || dup1 {
		t.Fatalf("first: %v dup %v", err, dup1)
	}
	again, err := topic.Send(ctx, []byte("y"), WithDedupKey("k"), Duplicate(&dup2))
	if err != nil || !dup2 || again != first {
		t.Fatalf("again: id %d (first %d) dup %v err %v", again, first, dup2, err)
	}
	for _, g := range []string{"a", "b"} {
		h := openGroupT(t, topic, g)
		m := recvT(t, h)
		if m.ID() != first || string(m.Data()) != "x" {
			t.Fatalf("group %s got %v, want the first publish %d", g, m, first)
		}
		m.Ack()
		expectEmpty(t, h) // the duplicate reached no group
	}
}

func TestAFullDedupTableIsErrDedupFull(t *testing.T) {
	p := dedupParams()
	p.DedupCapacity = 4
	q := testQueue(t, p)
	ctx := context.Background()
	params, _ := q.Params()
	for i := 0; i < int(params.DedupCapacity); i++ {
		if _, err := q.Send(ctx, []byte("x"), WithDedupKey(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := q.Send(ctx, []byte("x"), WithDedupKey("one more"))
	if !errors.Is(err, ErrDedupFull) || !strings.Contains(err.Error(), "DedupCapacity") {
		t.Fatalf("%v, want ErrDedupFull", err)
	}
	if s, _ := q.Stats(); s.Ready != uint64(params.DedupCapacity) {
		t.Fatalf("%d ready, want %d", s.Ready, params.DedupCapacity)
	}
}

func TestAfterTheWindowTheKeyStoresANewMessage(t *testing.T) {
	p := dedupParams()
	p.DedupWindow = 50 * time.Millisecond
	q := testQueue(t, p)
	ctx := context.Background()
	first, _ := q.Send(ctx, []byte("a"), WithDedupKey("k"))
	// A window is a time: poll (a duplicate stores nothing) until it passed.
	waitUntil(t, 10*time.Second, "the window's end", func() bool {
		var dup bool
		_, err := q.Send(ctx, []byte("b"), WithDedupKey("k"), Duplicate(&dup))
		return err == nil && !dup
	})
	if s, _ := q.Stats(); s.Ready != 2 {
		t.Fatalf("%d ready, want 2", s.Ready)
	}
	if m := recvT(t, q); m.ID() != first {
		t.Fatalf("first out %d, want %d", m.ID(), first)
	}
}

// Two processes send the same keys in step, so one often finds the other's
// key in flight and waits for it: each key is stored once.
func TestTwoProcessesSendingTheSameKeysStoreEachOnce(t *testing.T) {
	p := dedupParams()
	p.SlotSize, p.SlotCount, p.DedupCapacity = 16, 32768, 32768
	q := testQueue(t, p)
	const n = 20000
	type kid struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
	}
	var kids []kid
	for i := 0; i < 2; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SHMQ_GO_HELPER=send-keys", "SHMQ_GO_HELPER_QUEUE="+q.Name(), fmt.Sprint("SHMQ_GO_HELPER_N=", n))
		cmd.Stderr = os.Stderr
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		kids = append(kids, kid{cmd, in, bufio.NewReader(out)})
	}
	for _, k := range kids {
		if line, _ := k.out.ReadString('\n'); line != "ready\n" {
			t.Fatalf("helper said %q", line)
		}
	}
	for _, k := range kids {
		io.WriteString(k.in, "go\n")
	}
	dups := 0
	for _, k := range kids {
		line, _ := k.out.ReadString('\n')
		d, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || k.cmd.Wait() != nil {
			t.Fatalf("helper said %q and ended with %v", line, k.cmd.ProcessState)
		}
		dups += d
	}
	if s, _ := q.Stats(); dups != n || s.Ready != n {
		t.Fatalf("%d duplicates and %d stored, want %d and %d", dups, s.Ready, n, n)
	}
}
