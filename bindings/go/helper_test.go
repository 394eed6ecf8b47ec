// helper_test.go - what the re-executed test binary does as a helper
// process: "hold" leases one message, prints its id, and waits to be killed
// (of group SHMQ_GO_HELPER_GROUP of the topic, when that is set);
// "send-keys" prints "ready", waits for a line on stdin, sends
// SHMQ_GO_HELPER_N messages with dedup keys k0, k1, ... and prints how many
// were duplicates.
package shmq

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

func runHelper(mode, queue string) int {
	q, err := openHelperQueue(queue, os.Getenv("SHMQ_GO_HELPER_GROUP"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	switch mode {
	case "hold":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := q.Recv(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 3
		}
		fmt.Println(m.ID())
		for { // hold the lease until SIGKILL (select{} would trip the deadlock detector)
			time.Sleep(time.Hour)
		}
	case "send-keys":
		n, _ := strconv.Atoi(os.Getenv("SHMQ_GO_HELPER_N"))
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		dups := 0
		for i := 0; i < n; i++ {
			var dup bool
			if _, err := q.Send(context.Background(), []byte("x"), WithDedupKey(fmt.Sprint("k", i)), Duplicate(&dup)); err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				return 3
			}
			if dup {
				dups++
			}
		}
		fmt.Println(dups)
		return 0
	default:
		fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
		return 4
	}
}

func openHelperQueue(queue, group string) (*Queue, error) {
	if group != "" {
		return OpenGroup(queue, group)
	}
	return Open(queue)
}
