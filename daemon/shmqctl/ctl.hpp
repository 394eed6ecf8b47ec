// ctl.hpp - what the shmqctl commands share: exit codes, opening queues,
// and printing (tables, escaped payloads, JSON).
#pragma once

#include "queue.hpp"
#include "queue_json.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace shmqctl {

// Exit codes, documented in `shmqctl --help` and daemon/README.md.
// kWarnings: doctor found warnings but no errors.
enum Exit { kOk = 0, kUsage = 1, kNotFound = 2, kCannotOpen = 3, kNothing = 4, kFailed = 5, kWarnings = 6 };

using QueuePtr = std::unique_ptr<shmq::detail::Queue>;

struct Output {
    bool json = false;
    enum class Payload { Escaped, Hex, Raw } payload = Payload::Escaped;
};

// Print "shmqctl: <what>: <error>. <hint>" on stderr and return the exit code
// that fits the error.
int fail(const std::string &what, int shmq_error);
int fail_msg(const std::string &message, int code);

// Attach as a client (for commands that change the queue) or only map it.
int open_attached(const std::string &name, QueuePtr *out);
int open_observer(const std::string &name, QueuePtr *out);

// For the commands that read or take messages (peek, recv, purge, stat
// --group): queue `name` (attached or observed), or with a non-empty `group`
// that consumer group of topic `name` (a group handle is always attached).
// A topic without --group is refused: its handle only publishes. Returns an
// exit code; a failure is reported, naming `what`.
int open_target(const std::string &what, const std::string &name, const std::string &group, bool attach,
                QueuePtr *out);

// The durability shmqd's config (--config) gives `queue`, into *out: kOk, or
// the exit code of a config that cannot be read (reported). Without a config
// *out is "": the segment does not record it.
int config_durability(const std::string &config, const std::string &queue, std::string *out);

// Queue names found in the segment directory, sorted.
std::vector<std::string> queue_names();

std::string render_payload(const void *data, size_t len, Output::Payload how);
std::string format_age(int64_t ns);
void print_table(const std::vector<std::string> &header, const std::vector<std::vector<std::string>> &rows);
void print_json(const nlohmann::json &j);
// The result of a command: `j` under --json, else the line `text`.
void print_result(const Output &out, const nlohmann::json &j, const std::string &text);

using shmqd::read_stats;  // queue_json.hpp: the same figures as shmqd's HTTP API
using shmqd::stats_json;

} // namespace shmqctl
