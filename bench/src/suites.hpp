// suites.hpp - one function per benchmark suite; each returns its figures as JSON.
// A variant that fails is recorded as {"error": ...} (and counted by
// error_entry) so that the other variants and suites still run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "measure.hpp"
#include "transport.hpp"

namespace bench {

// A transport by its report name: cacheline, spsc_ring, shmq_spin, shmq_default,
// shmq_sleep, shmq_spin_zc, boost_mq, unix_socket, pipe, posix_mq.
std::unique_ptr<Transport> make_transport(const std::string &name);

// Logs the failure of `what` to stderr, counts it, and returns {"error": ...}.
Json error_entry(const std::string &what, const std::exception &e);
int error_count();

// Runs `fn` once per named transport; returns {name: fn's JSON or an error entry}.
// Transports without `need`, or not chosen by --variant, are skipped (absent).
Json for_each_transport(const Config &cfg, const char *suite, const std::vector<std::string> &names, Feature need,
                        const std::function<Json(Transport &)> &fn);

// A progress line on stderr: "[suite] variant: text".
void progress(const char *suite, const std::string &variant, const std::string &text);
std::string fmt_ns(double ns);
std::string fmt_rate(double per_second);

// Waits for a quiet machine (cfg.quiet_wait_s), runs fn and adds to its JSON
// object an "interference" record: other processes' CPU share while it ran.
Json measure_quietly(const Config &cfg, const std::function<Json()> &fn);

// Is variant `name` chosen by --variant (a comma-separated list; empty: all)?
bool variant_selected(const Config &cfg, const std::string &name);

Json suite_pingpong(const Config &cfg);
Json suite_throughput(const Config &cfg);
// Both suites above; `busy`: with a BusyNeighbour beside each measurement.
Json pingpong_suite(const Config &cfg, bool busy);
Json throughput_suite(const Config &cfg, bool busy);
// pingpong_suite and throughput_suite with busy = true: {"pingpong", "throughput"}.
Json suite_busy(const Config &cfg);
Json suite_backlog(const Config &cfg);
Json suite_size_curve(const Config &cfg);
Json suite_fixed_rate(const Config &cfg);
Json suite_scaling(const Config &cfg);
Json suite_depth(const Config &cfg);
Json suite_recovery(const Config &cfg);
// Publish/subscribe: 1 publisher -> 1, 2, 4 topic groups beside the same to N queues.
Json suite_topic(const Config &cfg);
// Issue 17: memory vs disk queues, send + shmq_sync vs an fdatasync per message, 4 producers.
Json suite_durability(const Config &cfg);

// One run of shmq batch throughput (shmq_send_batch / shmq_recv_batch, ack each).
RateRun shmq_batch_throughput(const Config &cfg, size_t batch);

} // namespace bench
