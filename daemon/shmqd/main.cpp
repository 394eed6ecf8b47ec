// main.cpp - shmqd's entry point: flags, config, logging, then the daemon.
// Exit codes: 0 clean stop, 1 could not start (or a snapshot failed at stop), 2 bad command line or config.
#include "args.hpp"
#include "config.hpp"
#include "daemon.hpp"
#include "daemonize.hpp"
#include "log.hpp"

#include <cstdio>
#include <spdlog/spdlog.h>

using namespace shmqd;

static bool load(const Args &a, Config *cfg) {
    if (a.config.empty()) {
        *cfg = default_config();
        return true;
    }
    ConfigResult r = load_config(a.config);
    if (!r.ok()) {
        fprintf(stderr, "shmqd: config %s: %s\n", a.config.c_str(), r.error.c_str());
        return false;
    }
    *cfg = std::move(r.config);
    return true;
}

int main(int argc, char **argv) {
    Args a;
    std::string why;
    if (parse_args(argc, argv, &a, &why) != 0) {
        fprintf(stderr, "shmqd: %s\n%s", why.c_str(), usage());
        return kExitConfig;
    }
    if (a.help || a.version) {
        fputs(a.help ? usage() : "shmqd " SHMQD_VERSION "\n", stdout);
        return kExitOk;
    }
    Config cfg;
    if (!load(a, &cfg)) return kExitConfig;
    if (a.check) {
        printf("shmqd: config %s is valid (%zu queue(s))\n", cfg.source.c_str(), cfg.queues.size());
        return kExitOk;
    }
    setup_logging(a.log_level.empty() ? cfg.daemon.log_level : a.log_level);
    DaemonOptions opts{a.config, a.log_level, -1};
    if (!a.foreground) {
        int code = 0;
        opts.ready_fd = daemonize(&code);
        if (opts.ready_fd < 0) return code;
    }
    return Daemon(std::move(cfg), std::move(opts)).run();
}
