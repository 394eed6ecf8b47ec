// transport.hpp - the one interface every compared transport implements.
// A Transport is made in the parent before fork (it creates two one-way
// channels, direction 0 and 1, for fixed-size messages); each forked child then
// opens an Endpoint that sends on one direction and receives on the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "harness.hpp"

namespace bench {

// How a channel is made: message size and how many messages may wait in it
// (a transport may cap the latter; depth() says what it used).
struct ChannelSpec {
    size_t msg_size = 64;
    size_t capacity = 4096;
};

// What a benchmark may ask of a transport.
enum class Feature { PingPong, OneWay, FixedRate, Depth };

class Endpoint {
  public:
    virtual ~Endpoint() = default;
    // Sends one message of exactly `len` bytes; throws on error.
    virtual void send(const void *data, size_t len) = 0;
    // Receives one message of exactly `len` bytes into `buf`; throws on error.
    virtual void recv(void *buf, size_t len) = 0;
};

class Transport {
  public:
    virtual ~Transport() = default;
    virtual std::string name() const = 0;
    // Largest message the transport can carry here (limits of this machine).
    virtual size_t max_size() const { return SIZE_MAX; }
    virtual bool supports(Feature) const { return true; }
    // Parent, before fork: create both directions.
    virtual void create(const ChannelSpec &spec) = 0;
    // Child (or parent, for single-process tests): an endpoint sending on
    // direction `send_dir` and receiving on `recv_dir` (-1: none).
    virtual std::unique_ptr<Endpoint> open(int send_dir, int recv_dir) = 0;
    // Parent: remove names and free what create() made. Safe to call twice.
    virtual void destroy() = 0;
    // Settings actually used (capacity after caps, system limits), for the report.
    virtual Json describe() const { return Json::object(); }
};

// RAII: create() in the constructor, destroy() in the destructor.
class ChannelGuard {
  public:
    ChannelGuard(Transport &t, const ChannelSpec &spec) : t_(t) { t_.create(spec); }
    ~ChannelGuard() { t_.destroy(); }
    ChannelGuard(const ChannelGuard &) = delete;
    ChannelGuard &operator=(const ChannelGuard &) = delete;

  private:
    Transport &t_;
};

// Factories, one per file in transports/.
std::unique_ptr<Transport> make_cacheline();
std::unique_ptr<Transport> make_spsc_ring();
std::unique_ptr<Transport> make_pipe();
std::unique_ptr<Transport> make_unix_socket();
std::unique_ptr<Transport> make_posix_mq();
// Blocking send/receive, or busy-polling try_send/try_receive (spin).
std::unique_ptr<Transport> make_boost_mq(bool spin);

// shmq variants: spinning consumer (large spin budget) or sleeping (spin_ns 0);
// zero-copy sends with reserve/commit and reads in place.
struct ShmqMode {
    uint32_t spin_ns = 1000000000u;
    bool zero_copy = false;
};
std::unique_ptr<Transport> make_shmq(const std::string &label, ShmqMode mode);
// The library's default spin budget (shmq_options_init).
uint32_t default_spin_ns();

// A message's first 8 bytes carry its sequence number; this one means "stop".
constexpr uint64_t kStopSeq = UINT64_MAX;

} // namespace bench
