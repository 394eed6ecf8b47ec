// config.hpp - shmqd's configuration: what the TOML file says, with defaults.
//
// A Config is plain data, validated once when parsed (config.cpp); everything
// after that trusts it. Queue parameters that live in the segment are kept as
// a shmq_params; the rest are the daemon's own policies for that queue.
#pragma once

#include "shmq/shmq.h"

#include <cstdint>
#include <string>
#include <vector>

namespace shmqd {

// How often a disk store syncs: after every write, every interval, or never
// (the kernel decides). Maps onto the store library's policy.
enum class FsyncPolicy { Always, Interval, Never };

// What a queue's messages survive (issue 17). Memory: processes dying (the
// segment). Reboot: also a host restart, through the snapshot shmqd writes at
// a clean stop (shmqd/snapshot.hpp). Disk: also a host crash, for what
// shmq_sync confirmed: the segment's own mode (shmq_params.durability), its
// file written back every flush_ms by shmqd (shmqd/flusher.hpp).
enum class Durability { Memory, Reboot, Disk };
const char *durability_name(Durability d);

// How shmqd treats one consumer group's backlog ([topics.T.group_options.G]).
// Spill: above `backlog` READY messages in the group, shmqd moves the group's
// oldest ready messages to its spill store (TOPIC.GROUP) and brings them back
// once the group's backlog is at or below half of it. Hold: the group keeps
// its backlog in the payload slots, and once they are all held the topic's
// own overflow (block or fail) is what publishers see.
struct GroupOptions {
    std::string name;
    bool spill = false;
    uint32_t backlog = 0; // messages; 0: spill_high_water x slot_count
};

struct QueueConfig {
    std::string name;
    shmq_params params;            // fixed in the segment when it is created
    double spill_high_water = 0.75; // spill when READY > this fraction of slots
    double spill_low_water = 0.25;  // refill when READY <= this fraction
    uint64_t spill_max_bytes = uint64_t(1) << 30;
    FsyncPolicy dlq_fsync = FsyncPolicy::Always;
    FsyncPolicy spill_fsync = FsyncPolicy::Interval;
    uint32_t fsync_interval_ms = 100; // for the Interval policy
    double redrive_rate = 100;        // messages per second put back by redrive
    uint64_t dlq_max_records = 0;     // retention: keep the newest this many dead letters (0: all)
    uint64_t dlq_max_age_ms = 0;      // retention: drop dead letters dead longer than this (0: never)
    Durability durability = Durability::Memory; // memory/reboot: shmqd's; disk: also the segment's (params)
    uint32_t flush_ms = 5;                      // disk: how often shmqd flushes the segment to its file
    // A topic ([topics.NAME], params.max_groups > 0): the consumer groups
    // shmqd binds when it creates or adopts the segment.
    std::vector<std::string> groups;
    std::vector<GroupOptions> group_options; // one per group, in the order of `groups`
    bool topic() const { return params.max_groups > 0; }
};

// The name under which shmqd keeps group `group` of topic `topic`'s dead
// letters (and its redrive requests): "TOPIC.GROUP". The config refuses a
// queue or topic of that name, and two groups whose names would meet.
std::string group_store_name(const std::string &topic, const std::string &group);
// The options of configured group `group` of topic `q` (defaults if none).
GroupOptions group_options(const QueueConfig &q, const std::string &group);

struct DaemonConfig {
    std::string spill_dir;
    std::string dead_letter_dir;
    std::string metrics = "127.0.0.1:9464"; // "off" disables the endpoint
    bool metrics_allow_remote = false;
    uint32_t http_max_connections = 128; // per HTTP server; past it requests get 503
    uint32_t http_idle_timeout_s = 30;   // an idle or stalled connection is closed after this
    uint64_t http_max_body = 16 << 20;   // bytes; a larger request body gets 413
    std::string api_socket;          // the HTTP API's Unix socket; default <spill_dir>/shmqd.sock; "off"
    uint32_t api_socket_mode = 0600; // 0600, 0640 or 0660 (group-shared, like segments)
    std::string api_tcp = "off";     // optional loopback "host:port" for the API (needs api_token_file)
    std::string api_token_file;      // the bearer token TCP clients must send
    uint32_t tick_ms = 5;
    std::string log_level = "info";
};

struct Config {
    int version = 1;
    std::string source; // the file it came from, or "(built-in default)"
    DaemonConfig daemon;
    std::vector<QueueConfig> queues; // queues and topics, sorted by name, names unique
};

// The result of parsing: a config, or an error message that names the key.
struct ConfigResult {
    Config config;
    std::string error;
    bool ok() const { return error.empty(); }
};

// Parse TOML text. `origin` names it in messages and anchors relative paths
// (a directory; empty means the current one).
ConfigResult parse_config(const std::string &text, const std::string &source, const std::string &base_dir);
// Read and parse a file.
ConfigResult load_config(const std::string &path);
// No file: one queue named "default" with default parameters, state under
// $STATE_DIRECTORY (set by systemd) or /var/lib/shmqd.
Config default_config();

QueueConfig default_queue(const std::string &name);
const QueueConfig *find_queue(const Config &c, const std::string &name);

// Names of the segment parameters that differ between a and b ("slot_count").
std::vector<std::string> param_differences(const shmq_params &a, const shmq_params &b);
// One parameter as text, for log lines.
std::string param_value(const shmq_params &p, const std::string &key);
const char *fsync_name(FsyncPolicy p);
// The durability shmqd gives queue `name` under `c`: `memory` for a queue it
// does not supervise (it writes snapshots of its own queues only).
Durability queue_durability(const Config &c, const std::string &name);

} // namespace shmqd
