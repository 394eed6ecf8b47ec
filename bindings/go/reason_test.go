package shmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNackAndRejectWithAReasonDeadLetterTheMessage(t *testing.T) {
	p := testParams()
	p.MaxAttempts = 1
	q := testQueue(t, p)
	ctx := context.Background()
	q.SendBatch(ctx, [][]byte{[]byte("r"), []byte("n")})
	if err := recvT(t, q).RejectWithReason(DeadBridgeRejected); err != nil {
		t.Fatal(err)
	}
	if err := recvT(t, q).NackWithReason(0, DeadBridgeRejected); err != nil { // attempt 1 of 1
		t.Fatal(err)
	}
	if s, _ := q.Stats(); s.Dead != 2 || s.Rejected != 1 || s.Nacked != 1 {
		t.Fatalf("dead %d rejected %d nacked %d, want 2 1 1", s.Dead, s.Rejected, s.Nacked)
	}
}

func TestAReasonOnlyLibshmqGivesIsRefusedAndChangesNothing(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("x"))
	m := recvT(t, q)
	for _, r := range []DeadReason{0, DeadExpired, DeadInvalid, DeadGroupRemoved, 99} { // 0: refused, as by C and Python
		for _, err := range []error{m.RejectWithReason(r), m.NackWithReason(0, r)} {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "still leased") {
				t.Fatalf("reason %v: %v", r, err)
			}
		}
	}
	if m.Finished() {
		t.Fatal("the message was finished by a refused reason")
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(DeadBridgeRejected, " ", DeadReason(99)); s != "bridge_rejected DeadReason(99)" {
		t.Fatal(s)
	}
}

// TestTheDeadLetterCarriesTheReasonGiven runs shmqd ($SHMQD, which ctest
// sets) and reads its dead-letter store with shmqctl ($SHMQCTL).
func TestTheDeadLetterCarriesTheReasonGiven(t *testing.T) {
	shmqd, shmqctl := os.Getenv("SHMQD"), os.Getenv("SHMQCTL")
	if shmqd == "" || shmqctl == "" {
		t.Skip("needs $SHMQD and $SHMQCTL (ctest sets them)")
	}
	dir, name := t.TempDir(), uniqueName("dlq")
	startShmqd(t, shmqd, dir, name)
	q, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ids, _ := q.SendBatch(context.Background(), [][]byte{[]byte("1"), []byte("2"), []byte("3"), []byte("4")})
	recvT(t, q).RejectWithReason(DeadBridgeRejected)
	recvT(t, q).NackWithReason(0, DeadBridgeRejected)
	recvT(t, q).Reject()
	recvT(t, q).Nack(0)
	var got []struct {
		ID     uint64 `json:"id"`
		Reason string `json:"reason"`
	}
	waitUntil(t, 20*time.Second, "4 dead letters in the store", func() bool {
		out, err := exec.Command(shmqctl, "--json", "dlq", "list", name, "--dlq-dir", filepath.Join(dir, "dlq")).Output()
		return err == nil && json.Unmarshal(out, &got) == nil && len(got) == 4
	})
	want := map[uint64]string{ids[0]: "bridge_rejected", ids[1]: "bridge_rejected", ids[2]: "rejected", ids[3]: "max_attempts"}
	for _, d := range got {
		if want[d.ID] != d.Reason {
			t.Errorf("dead letter %d: reason %q, want %q", d.ID, d.Reason, want[d.ID])
		}
	}
}

// startShmqd runs shmqd supervising queue name (max_attempts 1) with its
// stores under dir, until the test ends.
func startShmqd(t *testing.T, bin, dir, name string) {
	conf := fmt.Sprintf("version = 1\n[daemon]\nspill_dir = %q\ndead_letter_dir = %q\nmetrics = \"off\"\n"+
		"api_socket = \"off\"\ntick_ms = 5\n[queues.%q]\nslot_count = 16\nslot_size = 64\nmax_clients = 8\n"+
		"max_attempts = 1\n", filepath.Join(dir, "spill"), filepath.Join(dir, "dlq"), name)
	path := filepath.Join(dir, "shmqd.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "shmqd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", path, "--foreground")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		log.Close()
		Unlink(name)
	})
	waitUntil(t, 20*time.Second, "shmqd ready", func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("shmqd exited: %s", b)
		default:
		}
		b, _ := os.ReadFile(log.Name())
		return strings.Contains(string(b), "ready")
	})
}
