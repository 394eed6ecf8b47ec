// errors.go - libshmq's error codes as Go errors: one *Error type carrying
// the Code, and one sentinel per code for errors.Is (shmq.ErrFull, ...).
package shmq

// #include <shmq/shmq.h>
import "C"

import (
	"fmt"
	"syscall"
)

// Code is a libshmq error code (shmq_error).
type Code int

// The codes of shmq.h.
const (
	CodeFull           Code = C.SHMQ_EFULL
	CodeTimeout        Code = C.SHMQ_ETIMEDOUT
	CodeEmpty          Code = C.SHMQ_EEMPTY
	CodeLeaseLost      Code = C.SHMQ_ELEASELOST
	CodeClosed         Code = C.SHMQ_ECLOSED
	CodeInvalid        Code = C.SHMQ_EINVAL
	CodeBadName        Code = C.SHMQ_EBADNAME
	CodeTooBig         Code = C.SHMQ_ETOOBIG
	CodeNotFound       Code = C.SHMQ_ENOTFOUND
	CodeExists         Code = C.SHMQ_EEXIST
	CodeVersion        Code = C.SHMQ_EVERSION
	CodeCorrupt        Code = C.SHMQ_ECORRUPT
	CodePermission     Code = C.SHMQ_EPERM
	CodeNoSpace        Code = C.SHMQ_ENOSPACE
	CodeTooManyClients Code = C.SHMQ_ECLIENTS
	CodePrefetch       Code = C.SHMQ_EPREFETCH
	CodeInterrupted    Code = C.SHMQ_EINTR
	CodeSystem         Code = C.SHMQ_ESYS
	CodeRange          Code = C.SHMQ_ERANGE     // since 0.4
	CodeBusy           Code = C.SHMQ_EBUSY      // since 0.5: a group removed without force still holds messages
	CodeDedupFull      Code = C.SHMQ_EDEDUPFULL // since 0.5: the deduplication table is full
	CodeFlush          Code = C.SHMQ_EFLUSH     // writing a disk queue back to its file failed (Sync, Flush)
	CodeRebooted       Code = C.SHMQ_EREBOOTED  // a memory queue's segment outlived a reboot: refused
)

// String is libshmq's description of the code (shmq_strerror).
func (c Code) String() string { return C.GoString(C.shmq_strerror(C.int(c))) }

// Error is a failure reported by libshmq. Compare with errors.Is against the
// sentinels (ErrFull, ErrLeaseLost, ...), which match on Code alone.
type Error struct {
	Code  Code
	Op    string        // "send", "recv", "ack", "open", ...
	Queue string        // the queue's (or topic's) name, if known
	Group string        // the consumer group, for a group's handle or add_group (printed topic/group)
	Errno syscall.Errno // the C errno for CodeSystem, when known
	Note  string        // extra detail from the binding, if any
}

func (e *Error) Error() string {
	s := "shmq"
	if e.Op != "" {
		s += " " + e.Op
	}
	if e.Queue != "" {
		s += " " + e.Queue
	}
	if e.Group != "" {
		s += "/" + e.Group // a group is addressed topic/group (DESIGN.md)
	}
	s += ": " + e.Code.String()
	if e.Note != "" {
		s += " (" + e.Note + ")"
	}
	if e.Errno != 0 {
		s += ": " + e.Errno.Error()
	}
	return s
}

// Is reports whether target is an *Error with the same Code (sentinels).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap gives the errno of a system error, so errors.Is(err, syscall.ENOTDIR) works.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// Sentinel errors, one per code; use errors.Is(err, shmq.ErrFull).
var (
	ErrFull           = &Error{Code: CodeFull}
	ErrTimeout        = &Error{Code: CodeTimeout}
	ErrEmpty          = &Error{Code: CodeEmpty}
	ErrLeaseLost      = &Error{Code: CodeLeaseLost}
	ErrClosed         = &Error{Code: CodeClosed}
	ErrInvalid        = &Error{Code: CodeInvalid}
	ErrBadName        = &Error{Code: CodeBadName}
	ErrTooBig         = &Error{Code: CodeTooBig}
	ErrNotFound       = &Error{Code: CodeNotFound}
	ErrExists         = &Error{Code: CodeExists}
	ErrVersion        = &Error{Code: CodeVersion}
	ErrCorrupt        = &Error{Code: CodeCorrupt}
	ErrPermission     = &Error{Code: CodePermission}
	ErrNoSpace        = &Error{Code: CodeNoSpace}
	ErrTooManyClients = &Error{Code: CodeTooManyClients}
	ErrPrefetch       = &Error{Code: CodePrefetch}
	ErrInterrupted    = &Error{Code: CodeInterrupted}
	ErrSystem         = &Error{Code: CodeSystem}
	ErrRange          = &Error{Code: CodeRange}
	ErrBusy           = &Error{Code: CodeBusy}
	ErrDedupFull      = &Error{Code: CodeDedupFull}
	ErrFlush          = &Error{Code: CodeFlush}
	ErrRebooted       = &Error{Code: CodeRebooted}
)

// codeErr turns a C return code into nil or an *Error.
func codeErr(rc C.int, op, queue string) error {
	if rc == C.SHMQ_OK {
		return nil
	}
	return &Error{Code: Code(rc), Op: op, Queue: queue}
}

// codeErrno is codeErr that keeps errno (from cgo's second result) for CodeSystem.
func codeErrno(rc C.int, errno error, op, queue string) error {
	err := codeErr(rc, op, queue)
	if e, ok := err.(*Error); ok && e.Code == CodeSystem {
		if n, ok := errno.(syscall.Errno); ok {
			e.Errno = n
		}
	}
	return err
}

// HandlerPanic is returned by Consume when a handler panicked: the message
// was nacked and Consume stopped after the other handlers finished.
type HandlerPanic struct {
	Value     interface{}
	Stack     []byte
	MessageID uint64
}

func (p *HandlerPanic) Error() string {
	return fmt.Sprintf("shmq consume: handler panicked on message %d: %v", p.MessageID, p.Value)
}
