// identity.hpp - a message's identity across the AMQP boundary.
//
// Out, a message's origin (queue name, id, first enqueue time) and its local
// delivery count travel as AMQP properties and headers:
//   message_id "<queue>:<id>", timestamp (seconds), headers x-shmq-queue,
//   x-shmq-id, x-shmq-attempt, x-shmq-enqueued-ns, x-shmq-local-id.
// In, those headers are read back. The core cannot yet give a message an id on
// send nor carry headers, so an identity survives a local hop only inside an
// optional envelope around the payload (`envelope = true`): a fixed magic, the
// identity, then the original bytes. A message that crosses twice keeps its
// origin queue and id, so deduplication on either side works end to end.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bridge {

struct Identity {
    std::string queue;   // the queue where the message was first sent ("" if unknown)
    uint64_t id = 0;     // its id there
    uint32_t attempt = 0; // deliveries on the hop that published it
    int64_t enqueued_ns = 0; // first enqueue, CLOCK_REALTIME
    bool known() const { return !queue.empty(); }
};

// AMQP properties for a publish; owns the storage the properties point into.
class Properties {
public:
    Properties(const Identity &id, uint64_t local_id, bool persistent);
    Properties(const Properties &) = delete;
    Properties &operator=(const Properties &) = delete;
    const amqp_basic_properties_t *get() const { return &p_; }

private:
    std::string message_id_, queue_;
    amqp_table_entry_t entries_[5];
    amqp_basic_properties_t p_{};
};

// The identity in a delivered message's headers (unknown if absent or foreign).
Identity identity_from(const amqp_basic_properties_t &p);
// The x-shmq-local-id header (to match a basic.return with its lease).
std::optional<uint64_t> local_id_from(const amqp_basic_properties_t &p);

// Envelope: wrap `payload` with `id`; unwrap returns nullopt for a payload
// that is not an envelope (then it is used as it is).
std::string wrap(const Identity &id, std::string_view payload);
std::optional<Identity> unwrap(std::string_view data, std::string_view *payload);
size_t envelope_overhead(const Identity &id);

} // namespace bridge
