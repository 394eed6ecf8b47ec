package shmq

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
)

// A new boot's id for libshmq (SHMQ_BOOT_ID, docs/durability.md) while fn runs.
func afterReboot(t *testing.T, fn func()) {
	t.Helper()
	os.Setenv("SHMQ_BOOT_ID", "0123456789abcdef0123456789abcdef")
	defer os.Unsetenv("SHMQ_BOOT_ID")
	fn()
}

func TestSyncConfirmsADiskQueueAndItsMessagesSurviveAReboot(t *testing.T) {
	p := testParams()
	p.Durability = DurabilityDisk
	q := testQueue(t, p)
	got, err := q.Params()
	if err != nil || got.Durability != DurabilityDisk {
		t.Fatalf("params: %+v, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []uint64
	for _, s := range []string{"a", "b", "c"} {
		id, err := q.Send(ctx, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if st, err := q.Stats(); err != nil || st.Durability != DurabilityDisk || st.DurableLag != 3 || st.Flushes != 0 ||
		!st.LastFlush.IsZero() {
		t.Fatalf("stats before a flush: %+v, %v", st, err)
	}
	if err := q.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if st, err := q.Stats(); err != nil || st.DurableLag != 0 || st.Flushes != 1 || st.LastFlush.IsZero() ||
		st.FlushError != 0 || st.Quarantined != 0 {
		t.Fatalf("stats after a sync: %+v, %v", st, err)
	}
	if err := q.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	afterReboot(t, func() {
		again, err := Open(q.Name())
		if err != nil {
			t.Fatalf("open after the reboot: %v", err)
		}
		defer again.Close()
		for i, want := range []string{"a", "b", "c"} {
			m, err := again.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.ID() != ids[i] || string(m.Data()) != want {
				t.Fatalf("after the reboot got id %d %q, want %d %q", m.ID(), m.Data(), ids[i], want)
			}
			m.Ack()
		}
	})
}

func TestSyncOfAMemoryQueueReturnsAtOnceAndItsSegmentIsRefusedAfterAReboot(t *testing.T) {
	q := testQueue(t, testParams())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	afterReboot(t, func() {
		if _, err := Open(q.Name()); !errors.Is(err, ErrRebooted) {
			t.Fatalf("open of a memory segment of another boot: %v, want ErrRebooted", err)
		}
	})
}

func TestDurabilityIsValidatedByField(t *testing.T) {
	p := testParams()
	p.Durability = 7
	if err := p.Validate(); err == nil {
		t.Fatal("Durability 7 accepted")
	}
	p.Durability = DurabilityDisk
	p.MaxGroups = 2
	if err := p.Validate(); err == nil {
		t.Fatal("a disk topic accepted")
	}
}

// Header::flush_started (lib/src/layout.hpp, layout 8): raised above
// flush_done, it is what a flusher killed mid-flush leaves behind; a sync
// waits for that flush (up to 200 ms) before it flushes itself.
const flushStartedOffset = 960

func TestWithSyncStoresAndConfirmsOrSaysItIsQueued(t *testing.T) {
	p := testParams()
	p.Durability = DurabilityDisk
	q := testQueue(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := q.Send(ctx, []byte("a"), WithSync())
	if err != nil || id == 0 {
		t.Fatalf("send with sync: %d, %v", id, err)
	}
	ids, err := q.SendBatch(ctx, [][]byte{[]byte("b"), []byte("c")}, WithSync())
	if err != nil || len(ids) != 2 {
		t.Fatalf("batch with sync: %v, %v", ids, err)
	}
	// A flusher that died mid-flush: the sync waits past a short deadline.
	poke(t, q.Name(), flushStartedOffset, binary.LittleEndian.AppendUint64(nil, 1000)) // above flush_done (2)
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	id, err = q.Send(short, []byte("d"), WithSync())
	if !errors.Is(err, context.DeadlineExceeded) || id == 0 {
		t.Fatalf("sync past its deadline: id %d, err %v; want an id and DeadlineExceeded", id, err)
	}
	st, err := q.Stats()
	if err != nil || st.Ready != 4 {
		t.Fatalf("stats: ready %d, %v; want 4 (the unconfirmed one is queued)", st.Ready, err)
	}
}

func TestWithSyncOnAMemoryQueueIsAPlainSend(t *testing.T) {
	q := testQueue(t, testParams())
	id, err := q.Send(context.Background(), []byte("a"), WithSync())
	if err != nil || id == 0 {
		t.Fatalf("send with sync: %d, %v", id, err)
	}
}
