// args.hpp - shmqd's command line: --config FILE, --foreground, --log-level
// LEVEL, --check (validate the config and exit), --version, --help.
#pragma once

#include <string>

namespace shmqd {

struct Args {
    std::string config;    // empty: the built-in default config
    std::string log_level; // empty: the config's
    bool foreground = false;
    bool check = false;
    bool version = false;
    bool help = false;
};

// Parse argv. False with *why on a usage error.
int parse_args(int argc, char **argv, Args *out, std::string *why); // 0 or EINVAL
const char *usage();

} // namespace shmqd
