// identity.hpp - a message's identity and headers across the AMQP boundary.
//
// Out, a message's origin (queue name, id, first enqueue time) and its local
// delivery count travel as AMQP properties and headers:
//   message_id "<queue>:<id>", timestamp (seconds), headers x-shmq-queue,
//   x-shmq-id, x-shmq-attempt, x-shmq-enqueued-ns, x-shmq-local-id,
// followed by the message's own shmq headers as UTF-8 strings.
// In, the AMQP headers become the local message's shmq headers (text: strings
// as they are, integers and booleans in decimal / true|false), the identity
// among them (x-shmq-queue, x-shmq-id, x-shmq-enqueued-ns; x-shmq-attempt and
// x-shmq-local-id belong to the hop that published and are dropped). An out
// binding that leases a message carrying that identity publishes it again
// under its first message_id: a message that crosses twice keeps its origin
// queue and id, so deduplication on either side works end to end.
// A delivery's AMQP message_id that is not the one its identity gives (a
// foreign publisher's, with no x-shmq-* identity) is kept locally in the
// header x-shmq-message-id, and an out binding publishes under it again.
// The envelope (`envelope = true`) is the older way to carry the identity
// through a local hop, inside the payload: a fixed magic, the identity, then
// the original bytes; with it the identity headers are not written locally.
#pragma once

#include "local.hpp"

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bridge {

struct Identity {
    std::string queue;   // the queue where the message was first sent ("" if unknown)
    uint64_t id = 0;     // its id there
    uint32_t attempt = 0; // deliveries on the hop that published it
    int64_t enqueued_ns = 0; // first enqueue, CLOCK_REALTIME
    bool known() const { return !queue.empty(); }
};

// The local header that keeps a foreign AMQP message_id.
constexpr std::string_view kMessageIdHeader = "x-shmq-message-id";

// AMQP properties for a publish; owns the storage the properties point into.
class Properties {
public:
    // `extra`: the message's own headers (those named x-shmq-* are left out:
    // the identity entries replace them). `message_id`: a foreign publisher's
    // (message_id_from), published instead of "<queue>:<id>" if not empty.
    Properties(const Identity &id, uint64_t local_id, bool persistent, const std::vector<Header> &extra = {},
               std::string_view message_id = {});
    Properties(const Properties &) = delete;
    Properties &operator=(const Properties &) = delete;
    const amqp_basic_properties_t *get() const { return &p_; }

private:
    std::string message_id_, queue_;
    std::vector<amqp_table_entry_t> entries_;
    amqp_basic_properties_t p_{};
};

// The identity in a delivered message's headers (unknown if absent or foreign).
Identity identity_from(const amqp_basic_properties_t &p);
// The headers a delivery carries into the local queue: AMQP headers whose
// key is a valid shmq key and whose value is text, an integer, a boolean or
// a timestamp; x-shmq-message-id first (foreign_message_id), then the
// identity's (left out if !identity), then the rest in order, within shmq's
// bounds (64 pairs, 4096 bytes). *skipped counts those left out for their
// key, type, value or the bounds.
OwnedHeaders local_headers_from(const amqp_basic_properties_t &p, bool identity, size_t *skipped);
// The identity in a leased message's headers (as local_headers_from wrote
// it), or nullopt if they do not carry one whole and well formed.
std::optional<Identity> identity_from(const std::vector<Header> &h);

// The value of the x-shmq-message-id header ("" if none).
std::string_view message_id_from(const std::vector<Header> &h);
// The delivery's AMQP message_id if it differs from the "<queue>:<id>" of
// its identity (so it was not made by a bridge from that identity) and is
// text shmq can carry; nullopt otherwise. *bad is set for one that is not.
std::optional<std::string> foreign_message_id(const amqp_basic_properties_t &p, bool *bad);
// The deduplication key of a delivery: its AMQP message_id, or "" if it has
// none or one longer than a key may be.
std::string_view dedup_key_of(const amqp_basic_properties_t &p);

// The x-shmq-local-id header (to match a basic.return with its lease).
std::optional<uint64_t> local_id_from(const amqp_basic_properties_t &p);

// Envelope: wrap `payload` with `id`; unwrap returns nullopt for a payload
// that is not an envelope (then it is used as it is).
std::string wrap(const Identity &id, std::string_view payload);
std::optional<Identity> unwrap(std::string_view data, std::string_view *payload);
size_t envelope_overhead(const Identity &id);

} // namespace bridge
