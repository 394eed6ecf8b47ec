// Package shmq is the Go binding of libshmq, a crash-safe work queue in
// shared memory for processes on one host.
//
// A consumer leases a message with Recv, then acks it (done), nacks it
// (retry later, with backoff), rejects it (dead-letter now) or extends the
// lease. Delivery is at-least-once: each message has a stable ID and an
// Attempt count so handlers can be idempotent.
//
//	q, err := shmq.Open("orders")
//	if err != nil { ... }
//	defer q.Close()
//	id, err := q.Send(ctx, []byte("order 42"))
//	m, err := q.Recv(ctx)       // honours ctx's deadline and cancellation
//	process(m.Data())
//	err = m.Ack()
//
// Blocking calls wait inside libshmq in slices of at most 50 ms and check
// ctx between slices; see Queue.Recv. A *Queue is safe for concurrent use;
// a *Message should be finished by one goroutine (its methods are
// serialised, so a second Ack just returns an error).
//
// Building: inside the shmq source tree the package finds shmq.h through a
// relative path and links -lshmq (point CGO_LDFLAGS=-L and LD_LIBRARY_PATH
// at the build's lib/ directory). Against an installed libshmq, build with
// the tag shmq_pkgconfig to take the flags from pkg-config instead, and add
// CGO_LDFLAGS="-Wl,-rpath,$(pkg-config --variable=libdir shmq)" so the
// program finds libshmq at run time without LD_LIBRARY_PATH (README.md).
package shmq
