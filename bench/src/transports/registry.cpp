// registry.cpp - maps report names to transport factories and runs a suite's
// variants one by one, each after waiting for a quiet machine. The shmq
// variants differ only in handle options: spin budget and zero-copy.
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
        return make_boost_mq(false);
    if (name == "boost_mq_spin")
        return make_boost_mq(true);
    if (name == "unix_socket")
        return make_unix_socket();
    if (name == "pipe")
        return make_pipe();
    if (name == "posix_mq")
        return make_posix_mq();
    throw std::invalid_argument("unknown transport " + name);
}

Json measure_quietly(const Config &cfg, const std::function<Json()> &fn) {
    double waited = cfg.quiet_wait_s > 0 ? wait_for_quiet(cfg.quiet_wait_s) : 0;
    CpuSnapshot before = CpuSnapshot::take();
    Json j = fn();
    Json load = interference(before, CpuSnapshot::take());
    load["waited_for_quiet_s"] = waited;
    if (j.is_object())
        j["interference"] = load;
    return j;
}

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
            out[name] = measure_quietly(cfg, [&] { return fn(*t); });
        } catch (const std::exception &e) {
            out[name] = error_entry(std::string(suite) + " " + name, e);
        }
    }
    return out;
}

} // namespace bench
