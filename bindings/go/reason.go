// reason.go - why a message becomes a dead letter (shmq_dead_reason), for
// NackWithReason and RejectWithReason.
package shmq

// #include <shmq/shmq.h>
import "C"

import "fmt"

// DeadReason says why a message became a dead letter; shmqd's dead-letter
// store and its metric name it as String does. A caller may give
// DeadMaxAttempts, DeadRejected and DeadBridgeRejected; the others only
// libshmq gives.
type DeadReason uint32

const (
	DeadMaxAttempts    DeadReason = C.SHMQ_DEAD_MAX_ATTEMPTS    // out of attempts (Nack's)
	DeadRejected       DeadReason = C.SHMQ_DEAD_REJECTED        // Reject's
	DeadExpired        DeadReason = C.SHMQ_DEAD_EXPIRED         // its time to live passed
	DeadInvalid        DeadReason = C.SHMQ_DEAD_INVALID         // a slot whose lengths are broken
	DeadGroupRemoved   DeadReason = C.SHMQ_DEAD_GROUP_REMOVED   // its topic group was removed
	DeadBridgeRejected DeadReason = C.SHMQ_DEAD_BRIDGE_REJECTED // a broker refused it (shmq-bridge)
)

var deadReasonNames = map[DeadReason]string{
	DeadMaxAttempts: "max_attempts", DeadRejected: "rejected", DeadExpired: "expired",
	DeadInvalid: "invalid", DeadGroupRemoved: "group_removed", DeadBridgeRejected: "bridge_rejected",
}

// String is the reason's name in the dead-letter store ("max_attempts", ...).
func (r DeadReason) String() string {
	if s, ok := deadReasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("DeadReason(%d)", uint32(r))
}

func (r DeadReason) callerMay() bool {
	return r == DeadMaxAttempts || r == DeadRejected || r == DeadBridgeRejected
}
