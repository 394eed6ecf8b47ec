// load.cpp - how busy the rest of the machine is. CPU time from /proc/stat minus
// this program's own (getrusage of itself and its reaped children) is what
// other processes used; benchmarks wait for it to drop and report it.
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.hpp"

namespace bench {

CpuSnapshot CpuSnapshot::take() {
    CpuSnapshot s;
    s.wall_ns = now_ns();
    FILE *f = std::fopen("/proc/stat", "r");
    unsigned long long v[8] = {};
    if (f) {
        if (std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                        &v[4], &v[5], &v[6], &v[7]) != 8)
            std::fill(std::begin(v), std::end(v), 0ull);
        std::fclose(f);
    }
    double tick = double(sysconf(_SC_CLK_TCK));
    s.busy_s = double(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
    s.steal_s = double(v[7]) / tick;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        rusage ru{};
        getrusage(who, &ru);
        s.ours_s += double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    return s;
}

Json interference(const CpuSnapshot &a, const CpuSnapshot &b) {
    double wall = double(b.wall_ns - a.wall_ns) / 1e9;
    double other = std::max(0.0, (b.busy_s - a.busy_s) - (b.ours_s - a.ours_s));
    double cpus = double(sysconf(_SC_NPROCESSORS_ONLN));
    return Json{{"wall_s", wall},
                {"other_cpu_s", other},
                {"other_cpu_share", wall > 0 ? other / (wall * cpus) : 0},
                {"steal_s", b.steal_s - a.steal_s}};
}

double wait_for_quiet(double max_s) {
    int64_t start = now_ns();
    while (double(now_ns() - start) / 1e9 < max_s) {
        CpuSnapshot a = CpuSnapshot::take();
        usleep(200000);
        if (interference(a, CpuSnapshot::take())["other_cpu_share"].get<double>() < 0.05)
            break;
    }
    return double(now_ns() - start) / 1e9;
}

} // namespace bench
