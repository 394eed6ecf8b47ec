package shmq

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSendReturnsTheIDTheConsumerSees(t *testing.T) {
	q := testQueue(t, testParams())
	id, err := q.Send(context.Background(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	m := recvT(t, q)
	if m.ID() != id {
		t.Fatalf("send returned id %d, the consumer got %d", id, m.ID())
	}
	m.Ack()
}

func TestWithDelayHoldsAMessageBack(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	start := time.Now()
	later, err := q.Send(ctx, []byte("later"), WithDelay(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := q.SendBatch(ctx, [][]byte{[]byte("a"), []byte("b")}, At(start.Add(50*time.Millisecond)))
	if err != nil || len(ids) != 2 {
		t.Fatalf("batch: %v %v", ids, err)
	}
	if s, _ := q.Stats(); s.Delayed != 3 {
		t.Fatalf("%d delayed, want 3", s.Delayed)
	}
	var got []uint64
	for i := 0; i < 3; i++ {
		m := recvT(t, q)
		got = append(got, m.ID())
		m.Ack()
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("all three leased after %v, before the 100 ms delay", took)
	}
	if got[2] != later || !(got[0] == ids[0] || got[0] == ids[1]) {
		t.Fatalf("leased %v; batch %v (due first), then %d", got, ids, later)
	}
}

func TestBadDelaysFailAndSendNothing(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	if _, err := q.Send(ctx, []byte("x"), WithDelay(MaxDelay+time.Millisecond)); !errors.Is(err, ErrRange) {
		t.Fatalf("past MaxDelay: %v, want ErrRange", err)
	}
	if _, err := q.Send(ctx, []byte("x"), WithDelay(-time.Second)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative delay: %v, want ErrInvalid", err)
	}
	if ids, err := q.SendBatch(ctx, [][]byte{{1}}, WithDelay(MaxDelay*2)); len(ids) != 0 || !errors.Is(err, ErrRange) {
		t.Fatalf("batch past MaxDelay: %v %v", ids, err)
	}
	if s, _ := q.Stats(); s.Enqueued != 0 {
		t.Fatalf("%d enqueued, want 0", s.Enqueued)
	}
	if _, err := q.Send(ctx, []byte("week"), WithDelay(7*24*time.Hour)); err != nil {
		t.Fatalf("a week's delay: %v", err)
	}
}

func TestWithTTLExpiresAMessageNotLeasedInTime(t *testing.T) {
	q := testQueue(t, testParams())
	ctx := context.Background()
	if _, err := q.Send(ctx, []byte("gone"), WithTTL(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	kept, err := q.Send(ctx, []byte("kept"), WithTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a TTL is a time: let it pass
	m := recvT(t, q)
	if m.ID() != kept {
		t.Fatalf("leased %v, want only the message whose TTL has not passed (%d)", m, kept)
	}
	m.Ack()
	if s, _ := q.Stats(); s.Expired != 1 || s.Dead != 1 {
		t.Fatalf("expired %d, dead %d; want 1 and 1", s.Expired, s.Dead)
	}
	for _, bad := range []struct {
		d    time.Duration
		want error
	}{{0, ErrInvalid}, {-time.Second, ErrInvalid}, {MaxTTL + time.Millisecond, ErrRange}} {
		if _, err := q.Send(ctx, []byte("x"), WithTTL(bad.d)); !errors.Is(err, bad.want) {
			t.Fatalf("WithTTL(%v): %v, want %v", bad.d, err, bad.want)
		}
	}
}

func TestParamsTTLIsTheQueueDefault(t *testing.T) {
	p := testParams()
	p.TTL = 20 * time.Millisecond
	q := testQueue(t, p)
	if got, err := q.Params(); err != nil || got.TTL != p.TTL {
		t.Fatalf("queue TTL %v (%v), want %v", got.TTL, err, p.TTL)
	}
	ctx := context.Background()
	if _, err := q.Send(ctx, []byte("default")); err != nil {
		t.Fatal(err)
	}
	never, err := q.Send(ctx, []byte("never"), WithoutTTL())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a TTL is a time: let it pass
	if s, _ := q.Stats(); s.Ready+s.Dead != 2 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	if s, _ := q.Stats(); s.Expired != 1 {
		t.Fatalf("expired %d, want 1 after a recovery pass", s.Expired)
	}
	if m := recvT(t, q); m.ID() != never {
		t.Fatalf("leased %v, want the message sent WithoutTTL (%d)", m, never)
	} else {
		m.Ack()
	}
	p.TTL = MaxTTL + time.Millisecond
	if err := p.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("TTL above MaxTTL: %v", err)
	}
}
