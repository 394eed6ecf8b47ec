// cmd.hpp - one function per shmqctl command; main.cpp maps arguments to them.
#pragma once

#include "ctl.hpp"

namespace shmqctl {

enum class RecvAction { Ack, Nack, NoAck };

int cmd_list(const Output &out, std::vector<std::string> columns);
// `config`: shmqd's config, for the queue's durability ("": unknown).
// `group` (may be ""): that consumer group of topic `name`, in every
// command that takes one.
int cmd_stat(const Output &out, const std::string &name, const std::string &group, const std::string &config);
int cmd_watch(const Output &out, const std::string &name, double interval_s, int count);
int cmd_peek(const Output &out, const std::string &name, const std::string &group, uint32_t count);
// `durability` memory, reboot or disk; reboot only for a queue that shmqd's
// `config` sets to reboot (shmqd keeps the mode, not the segment).
int cmd_create(const Output &out, const std::string &name, const shmq_params &p, const std::string &durability,
               const std::string &config);
int cmd_delete(const Output &out, const std::string &name, bool if_empty);
// delay_ns > 0: each message becomes ready that long after it is stored;
// ttl_ns > 0: it expires that long after it is ready (0: the queue's ttl).
// headers: "KEY=VALUE" strings, carried by every message sent.
int cmd_send(const Output &out, const std::string &name, const std::string &data, int64_t timeout_ns,
             int64_t delay_ns, int64_t ttl_ns, std::vector<std::string> headers, const std::string &dedup_key = "",
             bool sync = false);
int cmd_recv(const Output &out, const std::string &name, const std::string &group, uint32_t count, RecvAction act,
             int64_t nack_ns, int64_t timeout_ns);
int cmd_purge(const Output &out, const std::string &name, const std::string &group);
// Bind consumer group `group` on topic `topic` (cmd_write.cpp).
int cmd_group_add(const Output &out, const std::string &topic, const std::string &group);
int cmd_group_remove(const Output &out, const std::string &topic, const std::string &group, bool force);
int cmd_recover(const Output &out, const std::string &name);
int cmd_doctor(const Output &out, bool fix);
// shmq-bridge's bindings, from its status file (cmd_bridge.cpp).
int cmd_bridge(const Output &out, const std::string &status_file);

// Dead letters (cmd_dlq.cpp). The directory comes from shmqd's config.
std::string dead_letter_dir(const std::string &config, const std::string &override_dir);
// `dlq SUB NAME` without --group, NAME being a topic's group written as its
// store name TOPIC.GROUP (and no queue of that name): the exit code of a usage
// error that names the command to type instead (a redrive would go into a
// queue NAME). kOk for any other name.
int check_group_spelling(const std::string &sub, const std::string &name);
// Which dead letters `dlq list` and `dlq export` show: by reason, by age
// (time since death, in seconds; negative: no bound), then a page of them.
struct DlqFilter {
    std::string reason;
    double older_than_s = -1, newer_than_s = -1;
    uint64_t skip = 0, limit = 0; // limit 0: no limit
};
int cmd_dlq_list(const Output &out, const std::string &dir, const std::string &queue, const DlqFilter &f);
// One JSON object per line per dead letter, payload included (--hex: as hex).
int cmd_dlq_export(const Output &out, const std::string &dir, const std::string &queue, const DlqFilter &f);
int cmd_dlq_show(const Output &out, const std::string &dir, const std::string &queue, uint64_t id);
int cmd_dlq_purge(const Output &out, const std::string &dir, const std::string &queue);
struct RedriveArgs {
    std::vector<uint64_t> ids;
    double rate = 100;
    std::string to;          // another queue to put them into
    bool no_wait = false;    // with shmqd: return once the request is handed over
    double timeout_s = 30;   // with shmqd: how long to wait for it to finish
    std::string topic, group; // a topic's group (its store is the `queue` given)
};
int cmd_dlq_redrive(const Output &out, const std::string &dir, const std::string &queue, const RedriveArgs &r);
int cmd_dlq_status(const Output &out, const std::string &dir, const std::string &queue);
int cmd_dlq_cancel(const Output &out, const std::string &dir, const std::string &queue);

} // namespace shmqctl
