// busy.cpp - the ping-pong and throughput suites again, every transport, with
// one CPU-bound process (a spinning loop) running beside the pair for the
// whole measurement. On a 2-CPU machine three runnable processes share two
// CPUs: spinning waiters then take time from the process they wait for.
// A busy host time-shares: the suite runs under SCHED_OTHER even when the
// bench was started under a real-time policy (chrt -f, for quieter figures
// elsewhere), where three spinning processes on two CPUs would never let the
// third run.
#include "../suites.hpp"

#include <sched.h>

namespace bench {

Json suite_busy(const Config &cfg) {
    int policy = sched_getscheduler(0);
    sched_param saved{};
    sched_getparam(0, &saved);
    sched_param other{};
    sched_setscheduler(0, SCHED_OTHER, &other); // children inherit it
    Json out = Json::object();
    out["pingpong"] = pingpong_suite(cfg, true);
    out["throughput"] = throughput_suite(cfg, true);
    if (policy >= 0) sched_setscheduler(0, policy, &saved);
    return out;
}

} // namespace bench
