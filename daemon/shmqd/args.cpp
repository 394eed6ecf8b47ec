// args.cpp - parsing shmqd's few flags by hand (args.hpp). Both "--config F"
// and "--config=F" are accepted.
#include "args.hpp"

#include "log.hpp"

#include <cerrno>
#include <cstring>

namespace shmqd {

const char *usage() {
    return "usage: shmqd [--config FILE] [--foreground] [--log-level LEVEL] [--check] [--version]\n"
           "  --config FILE      TOML configuration (default: one queue named \"default\")\n"
           "  --foreground       stay in the foreground (as under systemd); otherwise detach once ready\n"
           "  --log-level LEVEL  trace, debug, info, warn, error, critical or off (overrides the config)\n"
           "  --check            validate the configuration and exit (0 valid, 2 invalid)\n"
           "  --version          print the version and exit\n";
}

namespace {

// The value of --name VALUE or --name=VALUE at argv[*i]; advances *i.
bool value_of(const char *name, int argc, char **argv, int *i, std::string *out, bool *matched) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    *matched = strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
    if (!*matched) return true;
    if (a[n] == '=') {
        *out = a + n + 1;
        return true;
    }
    if (*i + 1 >= argc) return false;
    *out = argv[++*i];
    return true;
}

} // namespace

int parse_args(int argc, char **argv, Args *out, std::string *why) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        bool m = false;
        if (!value_of("--config", argc, argv, &i, &out->config, &m)) return *why = "--config needs a file", EINVAL;
        if (m) continue;
        if (!value_of("--log-level", argc, argv, &i, &out->log_level, &m)) return *why = "--log-level needs a level", EINVAL;
        if (m && !valid_log_level(out->log_level)) return *why = "unknown log level: " + out->log_level, EINVAL;
        if (m) continue;
        if (a == "--foreground" || a == "-f") out->foreground = true;
        else if (a == "--check") out->check = true;
        else if (a == "--version") out->version = true;
        else if (a == "--help" || a == "-h") out->help = true;
        else return *why = "unknown argument: " + a, EINVAL;
    }
    return 0;
}

} // namespace shmqd
