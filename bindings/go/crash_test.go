// crash_test.go - a consumer process killed with SIGKILL while holding a
// lease: recovery gives the message back, redelivered with attempt 2.
package shmq

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startHolder re-executes this test binary as a helper that leases one
// message of queue and prints its id; env adds to the helper's environment.
func startHolder(t *testing.T, queue string, env ...string) (*exec.Cmd, uint64) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SHMQ_GO_HELPER=hold", "SHMQ_GO_HELPER_QUEUE="+queue)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case line := <-lines:
		id, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("holder said %q", line)
		}
		return cmd, id
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("holder printed nothing")
	}
	return nil, 0
}

func TestKilledConsumersMessageIsRedelivered(t *testing.T) {
	q := testQueue(t, testParams())
	q.Send(context.Background(), []byte("survives kill -9"))
	cmd, heldID := startHolder(t, q.Name())
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("holder ended with %v", err)
	}
	if s, _ := q.Stats(); s.Leased != 1 {
		t.Fatalf("the killed holder's lease is gone before recovery: %+v", s)
	}
	r, err := q.Recover()
	if err != nil || r.DeadClients != 1 || r.LeasesReclaimed != 1 {
		t.Fatalf("recover: %+v %v", r, err)
	}
	m := recvT(t, q)
	if m.ID() != heldID || m.Attempt() != 2 || string(m.Data()) != "survives kill -9" {
		t.Fatalf("redelivered id %d attempt %d %q", m.ID(), m.Attempt(), m.Data())
	}
	m.Ack()
}
