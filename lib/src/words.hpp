// words.hpp - the packed atomic words that every transition CASes.
//
// A slot's state word is `state:3 | owner:9 | gen:20 | time:32`. `gen` grows on
// every transition, so a receipt (slot, word) can never match a later life of
// the slot; `time` is a lease deadline or retry time in ms since the segment's
// epoch (compared with wrap-around arithmetic), or a dead-letter reason.
#pragma once

#include "shmq/shmq.h"

#include <cstdint>

namespace shmq::detail {

enum class SlotState : uint32_t {
    Free = 0, Writing = 1, Ready = 2, Leased = 3, Delayed = 4, Dead = 5,
    // Topics only (topic.cpp): a group's word of a message not yet committed,
    // and a payload slot committed to the groups named in its time field.
    Staged = 6, Published = 7
};

// shmq.h's shmq_dead_reason; a DEAD word's time field holds it.
enum class DeadReason : uint32_t {
    None = 0,
    MaxAttempts = SHMQ_DEAD_MAX_ATTEMPTS,
    Rejected = SHMQ_DEAD_REJECTED,
    Expired = SHMQ_DEAD_EXPIRED,
    Invalid = SHMQ_DEAD_INVALID,
    GroupRemoved = SHMQ_DEAD_GROUP_REMOVED,
    BridgeRejected = SHMQ_DEAD_BRIDGE_REJECTED
};

constexpr uint32_t kNoOwner = 511;

struct SlotWord {
    uint64_t raw;

    static constexpr SlotWord make(SlotState s, uint32_t owner, uint32_t gen, uint32_t time) {
        return SlotWord{uint64_t(s) | uint64_t(owner & 511) << 3 | uint64_t(gen & 0xFFFFF) << 12 |
                        uint64_t(time) << 32};
    }
    constexpr SlotState state() const { return SlotState(raw & 7); }
    constexpr uint32_t owner() const { return uint32_t(raw >> 3) & 511; }
    constexpr uint32_t gen() const { return uint32_t(raw >> 12) & 0xFFFFF; }
    constexpr uint32_t time() const { return uint32_t(raw >> 32); }
    // The next life of this slot in state `s`.
    constexpr SlotWord next(SlotState s, uint32_t owner, uint32_t time) const {
        return make(s, owner, gen() + 1, time);
    }
};

// Is ms-time `t` at or before `now`? Valid while the two are < 24 days apart.
constexpr bool time_reached(uint32_t t, uint32_t now) { return int32_t(t - now) <= 0; }

enum class ClientState : uint32_t { Free = 0, Attaching = 1, Active = 2, Reclaiming = 3 };

// A client record's word: `state:2 | epoch:22 | value:40`, where value is the
// pid (Attaching, Active) or the index of the recoverer (Reclaiming). The epoch
// grows each time the record is freed, so a CAS aimed at an older occupant fails.
struct ClientWord {
    uint64_t raw;

    static constexpr ClientWord make(ClientState s, uint32_t epoch, uint64_t value) {
        return ClientWord{uint64_t(s) | uint64_t(epoch & 0x3FFFFF) << 2 |
                          (value & 0xFFFFFFFFFFULL) << 24};
    }
    constexpr ClientState state() const { return ClientState(raw & 3); }
    constexpr uint32_t epoch() const { return uint32_t(raw >> 2) & 0x3FFFFF; }
    constexpr uint64_t value() const { return raw >> 24; }
};

} // namespace shmq::detail
