// topic.go - topics and consumer groups: a topic is a queue created with
// Params.MaxGroups > 0; its handle publishes (Send fans out to every bound
// group) and binds groups (AddGroup); OpenGroup gives a group's consumer
// handle, on which Recv, Consume and the rest work as on a queue.
package shmq

// #include <shmq/shmq.h>
// #include <stdlib.h>
import "C"

import (
	"strings"
	"unsafe"
)

// MaxGroups is the most consumer groups one topic can have (SHMQ_MAX_GROUPS).
const MaxGroups = C.SHMQ_MAX_GROUPS

// OpenGroup attaches a consumer handle to group of topic. It fails with
// ErrNotFound if the topic or the group does not exist, ErrInvalid if topic
// names a queue, ErrBadName for a bad name. Send on the handle is ErrInvalid.
func OpenGroup(topic, group string, opts ...Option) (*Queue, error) {
	if err := checkName("open_group", topic); err != nil {
		return nil, err
	}
	if err := checkName("open_group", group); err != nil {
		e := err.(*Error)
		e.Queue, e.Group = topic, group
		return nil, e
	}
	ct, cg := C.CString(topic), C.CString(group)
	defer C.free(unsafe.Pointer(ct))
	defer C.free(unsafe.Pointer(cg))
	o := optionsToC(opts)
	var h *C.shmq_queue
	rc, errno := C.shmq_open_group(ct, cg, &o, &h)
	if err := codeErrno(rc, errno, "open_group", topic); err != nil {
		e := err.(*Error)
		e.Group = group
		switch e.Code {
		case CodeNotFound:
			e.Note = "no such topic, or no such group on it"
		case CodeInvalid:
			e.Note = "a queue, not a topic"
		}
		return nil, e
	}
	q := newQueue(topic, h, uint32(o.prefetch))
	q.group = group
	return q, q.readKind()
}

// AddGroup binds consumer group name to this topic: it receives every message
// whose Send begins after AddGroup returns. ErrExists if it is bound already,
// ErrFull if no lane is free (Params.MaxGroups groups are bound, or removed
// groups, one of this name included, still hold lanes until their last
// message ends: shmq_group_add), ErrInvalid on a queue's or a group's
// handle, ErrBadName for a bad name.
func (q *Queue) AddGroup(name string) error {
	if err := checkName("add_group", name); err != nil {
		e := err.(*Error)
		e.Queue, e.Group = q.name, name
		return e
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	h, err := q.enter("add_group")
	if err != nil {
		return err
	}
	rc := C.shmq_group_add(h, cname)
	q.leave()
	if err := codeErr(rc, "add_group", q.name); err != nil {
		e := err.(*Error)
		e.Group = name
		if e.Code == CodeInvalid {
			e.Note = "only a topic's own handle binds groups (create with Params.MaxGroups > 0)"
		}
		return e
	}
	return nil
}

// Group is the consumer group of a handle from OpenGroup, "" otherwise.
func (q *Queue) Group() string { return q.group }

// readKind records whether q is on a topic, for the errors' notes.
func (q *Queue) readKind() error {
	p, err := q.Params()
	if err != nil {
		q.Close()
		return err
	}
	q.maxGroups, q.dedupWindow = p.MaxGroups, p.DedupWindow
	return nil
}

// err is codeErr for a call on q: it names q's group and says what a
// topic's or a group's handle cannot do.
func (q *Queue) err(rc C.int, op string) error {
	if rc == C.SHMQ_OK {
		return nil
	}
	e := &Error{Code: Code(rc), Op: op, Queue: q.name, Group: q.group}
	switch {
	case q.maxGroups == 0:
	case q.group != "" && e.Code == CodeInvalid && strings.HasPrefix(op, "send"):
		e.Note = "a group's handle only receives"
	case q.group == "" && e.Code == CodeInvalid && strings.HasPrefix(op, "recv"):
		e.Note = "a topic's handle only publishes: receive through OpenGroup"
	case q.group == "" && e.Code == CodeNotFound && strings.HasPrefix(op, "send"):
		e.Note = "no consumer group is bound to the topic: nothing was sent (AddGroup first)"
	}
	return e
}
