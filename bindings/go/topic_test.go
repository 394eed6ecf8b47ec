// topic_test.go - topics and consumer groups: one Send reaching every group,
// per-group nacks, Consume on a group, the errors, and a group consumer
// process killed with SIGKILL while holding a lease.
package shmq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testTopic creates a fresh topic with room for maxGroups groups and binds groups.
func testTopic(t *testing.T, maxGroups uint32, groups ...string) *Queue {
	t.Helper()
	p := testParams()
	p.MaxGroups = maxGroups
	topic := testQueue(t, p)
	for _, g := range groups {
		if err := topic.AddGroup(g); err != nil {
			t.Fatalf("add group %s: %v", g, err)
		}
	}
	return topic
}

// openGroupT opens group of topic, closed when the test ends.
func openGroupT(t *testing.T, topic *Queue, group string, opts ...Option) *Queue {
	t.Helper()
	g, err := OpenGroup(topic.Name(), group, opts...)
	if err != nil {
		t.Fatalf("open group %s: %v", group, err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// expectEmpty fails the test unless a receive on q waits out 50 ms empty.
func expectEmpty(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if m, err := q.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("group %s: want nothing, got %v, %v", q.Group(), m, err)
	}
}

func TestTopicEveryGroupGetsEachMessageWithTheSameID(t *testing.T) {
	topic := testTopic(t, 3, "email", "inventory")
	email, inv := openGroupT(t, topic, "email"), openGroupT(t, topic, "inventory")
	if email.Name() != topic.Name() || email.Group() != "email" || topic.Group() != "" {
		t.Fatalf("names: %q %q %q", email.Name(), email.Group(), topic.Group())
	}
	if p, err := email.Params(); err != nil || p.MaxGroups != 3 {
		t.Fatalf("group params: %+v %v", p, err)
	}
	id, err := topic.Send(context.Background(), []byte("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := recvT(t, email), recvT(t, inv)
	if a.ID() != id || b.ID() != id || string(a.Data()) != "order-1" || string(b.Data()) != "order-1" {
		t.Fatalf("got %v and %v for id %d", a, b, id)
	}
	a.Ack()
	b.Ack()
	expectEmpty(t, email)
	expectEmpty(t, inv)
}

func TestTopicNackInOneGroupIsNotSeenByTheOther(t *testing.T) {
	topic := testTopic(t, 2, "email", "inventory")
	email, inv := openGroupT(t, topic, "email"), openGroupT(t, topic, "inventory")
	topic.Send(context.Background(), []byte("order-1"))
	if err := recvT(t, inv).Ack(); err != nil {
		t.Fatal(err)
	}
	if err := recvT(t, email).Nack(0); err != nil {
		t.Fatal(err)
	}
	expectEmpty(t, inv)
	again := recvT(t, email)
	if again.Attempt() != 2 || string(again.Data()) != "order-1" {
		t.Fatalf("redelivered %v", again)
	}
	again.Ack()
}

func TestTopicGroupAddedLaterGetsOnlyLaterMessages(t *testing.T) {
	topic := testTopic(t, 2, "email")
	ctx := context.Background()
	topic.Send(ctx, []byte("before"))
	if err := topic.AddGroup("analytics"); err != nil {
		t.Fatal(err)
	}
	topic.Send(ctx, []byte("after"))
	an := openGroupT(t, topic, "analytics")
	if m := recvT(t, an); string(m.Data()) != "after" {
		t.Fatalf("analytics got %q", m.Data())
	}
	expectEmpty(t, an)
}

func TestTopicConsumeOnGroups(t *testing.T) {
	topic := testTopic(t, 2, "g1", "g2")
	const n = 100
	var wg sync.WaitGroup
	got := make([][]string, 2)
	for i, name := range []string{"g1", "g2"} {
		g := openGroupT(t, topic, name)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var mu sync.Mutex
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			g.Consume(ctx, func(_ context.Context, m *Message) error {
				mu.Lock()
				defer mu.Unlock()
				got[i] = append(got[i], string(m.Data()))
				if len(got[i]) == n {
					cancel()
				}
				return nil
			}, 1)
		}(i)
	}
	for i := 0; i < n; i++ {
		if _, err := topic.Send(context.Background(), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) != n || got[i][0] != "0" || got[i][n-1] != fmt.Sprint(n-1) {
			t.Fatalf("group %d got %d messages: %v", i+1, len(got[i]), got[i])
		}
	}
}

func TestTopicErrors(t *testing.T) {
	topic := testTopic(t, 2)
	ctx := context.Background()
	_, err := topic.Send(ctx, []byte("nobody"))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no consumer group is bound") {
		t.Fatalf("send with no group: %v", err)
	}
	if _, err := OpenGroup(topic.Name(), "nope"); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), topic.Name()+"/nope") {
		t.Fatalf("unknown group: %v", err)
	}
	if err := topic.AddGroup("../etc"); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad group name: %v", err)
	}
	for _, g := range []string{"a", "b"} {
		if err := topic.AddGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := topic.AddGroup("a"); !errors.Is(err, ErrExists) {
		t.Fatalf("group bound twice: %v", err)
	}
	if err := topic.AddGroup("c"); !errors.Is(err, ErrFull) {
		t.Fatalf("a third group of 2: %v", err)
	}
	a := openGroupT(t, topic, "a")
	if _, err := a.Send(ctx, []byte("x")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "only receives") {
		t.Fatalf("send on a group: %v", err)
	}
	if err := a.AddGroup("d"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("add_group on a group: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := topic.Recv(cctx); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "only publishes") {
		t.Fatalf("recv on a topic: %v", err)
	}
	plain := testQueue(t, testParams())
	if _, err := OpenGroup(plain.Name(), "a"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("open_group on a queue: %v", err)
	}
	if err := plain.AddGroup("a"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("add_group on a queue: %v", err)
	}
	p := testParams()
	p.MaxGroups = MaxGroups + 1
	if _, err := Create(uniqueName("bad"), p); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "MaxGroups") {
		t.Fatalf("MaxGroups too large: %v", err)
	}
}

func TestTopicGroupConsumerKilledHoldingALease(t *testing.T) {
	topic := testTopic(t, 2, "g1", "g2")
	id, _ := topic.Send(context.Background(), []byte("job"))
	cmd, heldID := startHolder(t, topic.Name(), "SHMQ_GO_HELPER_GROUP=g1")
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("holder ended with %v", err)
	}
	g2 := openGroupT(t, topic, "g2")
	if m := recvT(t, g2); m.ID() != id || m.Attempt() != 1 {
		t.Fatalf("g2 got %v", m)
	} else {
		m.Ack()
	}
	if r, err := topic.Recover(); err != nil || r.DeadClients != 1 || r.LeasesReclaimed != 1 {
		t.Fatalf("recover: %+v %v", r, err)
	}
	g1 := openGroupT(t, topic, "g1")
	m := recvT(t, g1)
	if heldID != id || m.ID() != id || m.Attempt() != 2 || string(m.Data()) != "job" {
		t.Fatalf("g1 got id %d attempt %d %q; the holder had %d", m.ID(), m.Attempt(), m.Data(), heldID)
	}
	m.Ack()
	expectEmpty(t, g2)
}
