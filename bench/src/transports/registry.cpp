// registry.cpp - maps report names to transport factories, and counts failures.
// The shmq variants differ only in handle options: spin budget and zero-copy.
#include <cstdio>
#include <stdexcept>

#include "../suites.hpp"

namespace bench {

std::unique_ptr<Transport> make_transport(const std::string &name) {
    if (name == "cacheline")
        return make_cacheline();
    if (name == "spsc_ring")
        return make_spsc_ring();
    if (name == "shmq_spin")
        return make_shmq(name, ShmqMode{1000000000u, false});
    if (name == "shmq_default")
        return make_shmq(name, ShmqMode{default_spin_ns(), false});
    if (name == "shmq_sleep")
        return make_shmq(name, ShmqMode{0, false});
    if (name == "shmq_spin_zc")
        return make_shmq(name, ShmqMode{1000000000u, true});
    if (name == "boost_mq")
        return make_boost_mq();
    if (name == "unix_socket")
        return make_unix_socket();
    if (name == "pipe")
        return make_pipe();
    if (name == "posix_mq")
        return make_posix_mq();
    throw std::invalid_argument("unknown transport " + name);
}

namespace {
int g_errors = 0;
} // namespace

Json error_entry(const std::string &what, const std::exception &e) {
    g_errors++;
    std::fprintf(stderr, "shmq_bench: %s failed: %s\n", what.c_str(), e.what());
    return Json{{"error", e.what()}};
}

int error_count() { return g_errors; }

bool variant_selected(const Config &cfg, const std::string &name) {
    return cfg.variant.empty() || ("," + cfg.variant + ",").find("," + name + ",") != std::string::npos;
}

Json for_each_transport(const Config &cfg, const char *suite, const std::vector<std::string> &names,
                        Feature need, const std::function<Json(Transport &)> &fn) {
    Json out = Json::object();
    for (const auto &name : names) {
        auto t = make_transport(name);
        if (!t->supports(need) || !variant_selected(cfg, name))
            continue;
        try {
            out[name] = fn(*t);
        } catch (const std::exception &e) {
            out[name] = error_entry(std::string(suite) + " " + name, e);
        }
    }
    return out;
}

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
