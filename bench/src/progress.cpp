// progress.cpp - what the user sees while the benchmark runs: one progress
// line per measurement, failures logged and counted (the exit status), and the
// human formats of durations and rates shared with the reports.
#include <cstdio>

#include "suites.hpp"

namespace bench {

namespace {
int g_errors = 0;
} // namespace

Json error_entry(const std::string &what, const std::exception &e) {
    g_errors++;
    std::fprintf(stderr, "shmq_bench: %s failed: %s\n", what.c_str(), e.what());
    return Json{{"error", e.what()}};
}

int error_count() { return g_errors; }

void progress(const char *suite, const std::string &variant, const std::string &text) {
    std::fprintf(stderr, "[%s] %s: %s\n", suite, variant.c_str(), text.c_str());
}

std::string fmt_ns(double ns) {
    char buf[32];
    if (ns < 1e3)
        std::snprintf(buf, sizeof buf, "%.0f ns", ns);
    else if (ns < 1e6)
        std::snprintf(buf, sizeof buf, "%.2f us", ns / 1e3);
    else if (ns < 1e9)
        std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
    else
        std::snprintf(buf, sizeof buf, "%.2f s", ns / 1e9);
    return buf;
}

std::string fmt_rate(double per_second) {
    char buf[32];
    if (per_second >= 1e6)
        std::snprintf(buf, sizeof buf, "%.2f M/s", per_second / 1e6);
    else if (per_second >= 1e3)
        std::snprintf(buf, sizeof buf, "%.1f k/s", per_second / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.0f /s", per_second);
    return buf;
}

} // namespace bench
