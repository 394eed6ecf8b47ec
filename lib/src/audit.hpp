// audit.hpp - a full consistency check of a segment, for tests and doctor.
//
// In a quiescent segment (nobody mid-operation) every FREE slot must be named
// by the free ring and every READY slot by the ready ring; anything else means
// a message or a slot was lost.
#pragma once

#include "queue.hpp"

#include <cstdint>

namespace shmq::detail {

struct Audit {
    uint32_t by_state[8] = {};   // slots per SlotState
    uint32_t free_unlisted = 0;  // FREE slots no free-ring entry names
    uint32_t ready_unlisted = 0; // READY slots no ready-ring entry names
    uint32_t bad_entries = 0;    // ring entries naming no slot
    bool ok() const { return free_unlisted == 0 && ready_unlisted == 0 && bad_entries == 0; }
};

Audit audit(Queue &q);

} // namespace shmq::detail
