// log.cpp - spdlog set-up for shmqd (log.hpp).
#include "log.hpp"

#include <cstdlib>
#include <memory>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace {

// "%*": the sd-daemon(3) priority prefix of a line, <7> debug .. <2> critical.
class PriorityFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg &msg, const std::tm &, spdlog::memory_buf_t &dest) override {
        static const char *const prio[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
        const char *p = prio[size_t(msg.level) < 7 ? size_t(msg.level) : 2];
        dest.append(p, p + 3);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PriorityFlag>(); }
};

} // namespace

bool valid_log_level(const std::string &level) {
    return level == "off" || spdlog::level::from_str(level) != spdlog::level::off;
}

void set_log_level(const std::string &level) { spdlog::set_level(spdlog::level::from_str(level)); }

void setup_logging(const std::string &level) {
    spdlog::set_default_logger(spdlog::stderr_logger_mt("shmqd"));
    auto f = std::make_unique<spdlog::pattern_formatter>();
    if (getenv("JOURNAL_STREAM") != nullptr) f->add_flag<PriorityFlag>('*').set_pattern("%*%l: %v");
    else f->set_pattern("%Y-%m-%dT%H:%M:%S.%e shmqd[%P] %l: %v");
    spdlog::set_formatter(std::move(f));
    set_log_level(level);
    spdlog::flush_on(spdlog::level::trace); // every line reaches stderr at once
}

} // namespace shmqd
