// Command shmq-bench measures the Go binding 1 producer process -> 1 consumer
// process with 64-byte messages, next to a Unix socket between the same two
// processes and a Go channel within one process. bindings/bench/bench.py runs
// it and writes the ratios.
//
//	shmq-bench -n N [-transports recv,consume1,consume4,batch,unix,chan]
//
// prints one line per transport: "<transport> <msg/s>". The consumer is this
// process; the producer is this program re-executed with -produce, started
// before the clock and told to go through its stdin.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"shmq.dev/shmq"
)

const size = 64
const batch = 256

func main() {
	n := flag.Int("n", 200000, "messages per transport")
	list := flag.String("transports", "recv,consume1,consume4,batch,unix,chan", "what to measure")
	produce := flag.String("produce", "", "internal: be the producer for this transport")
	target := flag.String("target", "", "internal: queue name or socket path")
	flag.Parse()
	if *produce != "" {
		check(producer(*produce, *target, *n))
		return
	}
	for _, t := range strings.Split(*list, ",") {
		rate, err := measure(t, *n)
		check(err)
		fmt.Printf("%s %.0f\n", t, rate)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "shmq-bench:", err)
		os.Exit(1)
	}
}

func measure(t string, n int) (float64, error) {
	switch t {
	case "chan":
		return channel(n), nil
	case "unix":
		return unixSocket(n)
	case "recv", "consume1", "consume4", "batch":
		return shmqPair(t, n)
	}
	return 0, fmt.Errorf("unknown transport %q", t)
}

// pair starts the producer, runs consume with the clock going, and waits.
func pair(t, target string, n int, consume func() error) (float64, error) {
	cmd := exec.Command(os.Args[0], "-produce", t, "-target", target, "-n", fmt.Sprint(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil { // "ready"
		return 0, fmt.Errorf("%s producer: %w", t, err)
	}
	start := time.Now()
	fmt.Fprintln(stdin, "go")
	err = consume()
	elapsed := time.Since(start)
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("%s producer: %w", t, werr)
	}
	return float64(n) / elapsed.Seconds(), err
}

func shmqPair(t string, n int) (float64, error) {
	name := fmt.Sprintf("gobench.%d.%s", os.Getpid(), t)
	p := shmq.DefaultParams()
	p.SlotSize, p.SlotCount = size, 4096
	q, err := shmq.Create(name, p, shmq.WithPrefetch(batch))
	if err != nil {
		return 0, err
	}
	defer shmq.Unlink(name)
	defer q.Close()
	return pair(t, name, n, func() error { return consumeShmq(q, t, n) })
}

func consumeShmq(q *shmq.Queue, t string, n int) error {
	ctx := context.Background()
	switch t {
	case "recv":
		for i := 0; i < n; i++ {
			m, err := q.Recv(ctx)
			if err != nil {
				return err
			}
			if err := m.Ack(); err != nil {
				return err
			}
		}
	case "batch":
		for got := 0; got < n; {
			msgs, err := q.RecvBatch(ctx, batch)
			if err != nil {
				return err
			}
			if err := q.AckBatch(msgs); err != nil {
				return err
			}
			got += len(msgs)
		}
	default: // consume1, consume4
		run, stop := context.WithCancel(ctx)
		var got int64
		err := q.Consume(run, func(context.Context, *shmq.Message) error {
			if atomic.AddInt64(&got, 1) == int64(n) {
				stop()
			}
			return nil
		}, int(t[len(t)-1]-'0'))
		if got < int64(n) {
			return err
		}
	}
	return nil
}

func unixSocket(n int) (float64, error) {
	dir, err := os.MkdirTemp("", "shmq-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sock")
	l, err := net.Listen("unixpacket", path)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var conn net.Conn
	accepted := make(chan error, 1)
	go func() {
		var err error
		conn, err = l.Accept()
		accepted <- err
	}()
	return pair("unix", path, n, func() error {
		if err := <-accepted; err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, size)
		for i := 0; i < n; i++ {
			if _, err := conn.Read(buf); err != nil {
				return err
			}
		}
		return nil
	})
}

func channel(n int) float64 {
	ch := make(chan []byte, 1024)
	go func() {
		for i := 0; i < n; i++ {
			msg := make([]byte, size) // a copy per message, as the other transports make
			ch <- msg
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		<-ch
	}
	return float64(n) / time.Since(start).Seconds()
}

// producer is the child side: connect, say ready, wait for go, send n.
func producer(t, target string, n int) error {
	payload := make([]byte, size)
	var send func() error
	switch t {
	case "unix":
		conn, err := net.Dial("unixpacket", target)
		if err != nil {
			return err
		}
		defer conn.Close()
		send = func() error {
			for i := 0; i < n; i++ {
				if _, err := conn.Write(payload); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		q, err := shmq.Open(target)
		if err != nil {
			return err
		}
		defer q.Close()
		send = func() error { return sendShmq(q, t, n, payload) }
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	return send()
}

func sendShmq(q *shmq.Queue, t string, n int, payload []byte) error {
	ctx := context.Background()
	if t == "batch" {
		msgs := make([][]byte, batch)
		for i := range msgs {
			msgs[i] = payload
		}
		for sent := 0; sent < n; sent += batch {
			if left := n - sent; left < batch {
				msgs = msgs[:left]
			}
			if _, err := q.SendBatch(ctx, msgs); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < n; i++ {
		if _, err := q.Send(ctx, payload); err != nil {
			return err
		}
	}
	return nil
}
