// helper_test.go - what the re-executed test binary does as a helper
// process: "hold" leases one message, prints its id, and waits to be killed
// (of group SHMQ_GO_HELPER_GROUP of the topic, when that is set).
package shmq

import (
	"context"
	"fmt"
	"os"
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
