// queue_json.hpp - a queue's figures as JSON, as `shmqctl stat --json` and
// `list --json` print them and shmqd's HTTP API answers them (one code for
// both). Read by mapping the segment without attaching.
#pragma once

#include "queue.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace shmqd {

// The counters of `shmq_stats` (the list row).
nlohmann::json stats_json(const shmq_stats &s);
// Stats of `q`; with `clients`, also the client table.
shmq_stats read_stats(shmq::detail::Queue &q, std::vector<shmq_client_stats> *clients = nullptr);
// {"name", "durability", "params", "stats", "clients"} of queue `name`:
// SHMQ_OK or the code of the failure to map it (SHMQ_ENOTFOUND, ...). The
// durability is shmqd's config's, not the segment's: null when not known.
int queue_stat_json(const std::string &name, nlohmann::json *out, const char *durability = nullptr);
// The same of an open handle `q` (a queue, a topic, or a topic's group:
// then the group's own figures over the shared payload slots).
nlohmann::json stat_json(shmq::detail::Queue &q, const std::string &name, const char *durability);

} // namespace shmqd
