// main.cpp - shmq-bridge: carries local shmq queues to RabbitMQ and back.
//
// Reads the config, starts one thread per binding, and waits for a signal in
// the main thread, rewriting the status file every interval. SIGTERM/SIGINT
// stop the bindings (each settles what it can) and exit 0.
// Exit codes: 0 clean stop or a good --check, 2 bad command line or config.
#include "binding.hpp"
#include "config.hpp"
#include "local.hpp"
#include "metrics.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace {

const char kUsage[] =
    "usage: shmq-bridge --config FILE [--check] [--log-level LEVEL]\n"
    "  --config FILE       the TOML configuration (see daemon/bridge/README.md)\n"
    "  --check             validate the configuration and exit (0 good, 2 bad)\n"
    "  --log-level LEVEL   trace debug info warn error critical off (overrides the config)\n";

struct Args {
    std::string config, log_level;
    bool check = false;
};

bool parse_args(int argc, char **argv, Args *a) {
    for (int i = 1; i < argc; i++) {
        std::string s = argv[i];
        if (s == "--check") a->check = true;
        else if (s == "--config" && i + 1 < argc) a->config = argv[++i];
        else if (s == "--log-level" && i + 1 < argc) a->log_level = argv[++i];
        else if (s == "--help" || s == "-h") { std::fputs(kUsage, stdout); std::exit(0); }
        else { std::fprintf(stderr, "shmq-bridge: unexpected argument '%s'\n%s", argv[i], kUsage); return false; }
    }
    if (a->config.empty()) std::fprintf(stderr, "shmq-bridge: --config FILE is required\n%s", kUsage);
    return !a->config.empty();
}

// Checks that need more than the TOML reader: queue names and the log level.
bool validate(const bridge::Config &c, std::string *err) {
    for (const bridge::Binding &b : c.bindings)
        if (int rc = bridge::LocalQueue::check_name(b.local_queue); rc != 0) {
            *err = "binding " + b.name + ": local_queue \"" + b.local_queue + "\": " + bridge::LocalQueue::strerror(rc);
            return false;
        } else if (int rg = b.group.empty() ? 0 : bridge::LocalQueue::check_name(b.group); rg != 0) {
            *err = "binding " + b.name + ": group \"" + b.group + "\": " + bridge::LocalQueue::strerror(rg);
            return false;
        }
    if (spdlog::level::from_str(c.log_level) == spdlog::level::off && c.log_level != "off") {
        *err = "log_level: unknown level \"" + c.log_level + "\"";
        return false;
    }
    return true;
}

void run(const bridge::Config &c) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr); // threads inherit it; the main thread waits for them
    std::signal(SIGPIPE, SIG_IGN);

    std::atomic<bool> stop{false};
    std::vector<std::unique_ptr<bridge::Metrics>> metrics;
    std::vector<bridge::Metrics *> all;
    std::vector<std::thread> threads;
    for (const bridge::Binding &b : c.bindings) {
        metrics.push_back(std::make_unique<bridge::Metrics>());
        bridge::Metrics &m = *metrics.back();
        m.binding = b.name;
        m.direction = b.direction == bridge::Direction::out ? "out" : "in";
        all.push_back(&m);
        auto fn = b.direction == bridge::Direction::out ? bridge::run_out : bridge::run_in;
        threads.emplace_back([&, fn, &b = b, &m = m] { fn(b, c.broker, m, stop); });
    }
    spdlog::info("shmq-bridge running {} binding(s) with {}:{}", c.bindings.size(), c.broker.host, c.broker.port);
    timespec interval{long(c.status.interval_ms / 1000), long(c.status.interval_ms % 1000) * 1000000};
    for (;;) {
        int sig = sigtimedwait(&sigs, nullptr, &interval);
        if (!c.status.file.empty() && !bridge::write_status(c.status.file, all))
            spdlog::warn("cannot write the status file {}: {}", c.status.file, std::strerror(errno));
        if (sig == SIGTERM || sig == SIGINT) break;
    }
    spdlog::info("stopping");
    stop = true;
    for (std::thread &t : threads) t.join();
    if (!c.status.file.empty()) bridge::write_status(c.status.file, all);
}

} // namespace

int main(int argc, char **argv) {
    Args a;
    if (!parse_args(argc, argv, &a)) return 2;
    std::string err;
    std::optional<bridge::Config> c = bridge::load_config(a.config, &err);
    if (c && !a.log_level.empty()) c->log_level = a.log_level;
    if (!c || !validate(*c, &err)) {
        std::fprintf(stderr, "shmq-bridge: %s: %s\n", a.config.c_str(), err.c_str());
        return 2;
    }
    if (a.check) {
        std::printf("shmq-bridge: %s is valid (%zu binding(s))\n", a.config.c_str(), c->bindings.size());
        return 0;
    }
    spdlog::set_default_logger(spdlog::stderr_color_mt("shmq-bridge"));
    spdlog::set_level(spdlog::level::from_str(c->log_level));
    run(*c);
    return 0;
}
