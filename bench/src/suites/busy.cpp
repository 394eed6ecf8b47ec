// busy.cpp - the ping-pong and throughput suites again, every transport, with
// one CPU-bound process (a spinning loop) running beside the pair for the
// whole measurement. On a 2-CPU machine three runnable processes share two
// CPUs: spinning waiters then take time from the process they wait for.
#include "../suites.hpp"

namespace bench {

Json suite_busy(const Config &cfg) {
    Json out = Json::object();
    out["pingpong"] = pingpong_suite(cfg, true);
    out["throughput"] = throughput_suite(cfg, true);
    return out;
}

} // namespace bench
