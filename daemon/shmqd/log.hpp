// log.hpp - shmqd's logging: spdlog to stderr, which systemd's journal picks
// up. Under the journal (JOURNAL_STREAM set) lines carry a syslog priority
// prefix instead of a timestamp, which the journal adds itself.
#pragma once

#include <string>

namespace shmqd {

// "trace" .. "critical", "off". Returns false for an unknown name.
bool valid_log_level(const std::string &level);
void setup_logging(const std::string &level);
void set_log_level(const std::string &level);

} // namespace shmqd
