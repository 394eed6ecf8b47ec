// machine.cpp - what the figures were measured on: CPU model and count, kernel,
// memory, whether it is a virtual machine, compiler, library version, and what
// one clock read costs (every latency sample includes two of them).
#include <ctime>
#include <fstream>
#include <string>
#include <sys/utsname.h>
#include <unistd.h>

#include <shmq/shmq.h>

#include "counters.hpp"
#include "harness.hpp"

namespace bench {

namespace {

// The value of the first "key : value" line of /proc/cpuinfo starting with key.
std::string cpuinfo(const std::string &key) {
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);) {
        if (line.rfind(key, 0) != 0)
            continue;
        auto colon = line.find(':');
        return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
    return "";
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

double clock_overhead_ns() {
    constexpr int kReads = 1000000;
    int64_t t0 = now_ns();
    for (int i = 0; i < kReads; i++)
        now_ns(); // an opaque vDSO call: not optimised away
    int64_t t1 = now_ns();
    return double(t1 - t0) / kReads;
}

std::string utc_now() {
    time_t t = time(nullptr);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    return buf;
}

std::string hw_counters() {
    std::string why = counters_unavailable_reason();
    return why.empty() ? "available" : "not available: " + why;
}

} // namespace

std::string machine_load_average() { return load_average(); }

Json describe_machine() {
    utsname u{};
    uname(&u);
    return Json{
        {"cpu_model", cpuinfo("model name")},
        {"cpu_mhz", cpuinfo("cpu MHz")},
        {"cache", cpuinfo("cache size")},
        {"logical_cpus", sysconf(_SC_NPROCESSORS_ONLN)},
        {"virtualized", cpuinfo("flags").find("hypervisor") != std::string::npos},
        {"kernel", std::string(u.sysname) + " " + u.release + " " + u.machine},
        {"memory_mib", sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGESIZE) / 1024},
        {"compiler", __VERSION__},
        {"shmq_version_header", SHMQ_VERSION},
        {"shmq_version_library", shmq_version()},
        {"clock", "CLOCK_MONOTONIC"},
        {"clock_read_ns", clock_overhead_ns()},
        {"date_utc", utc_now()},
        {"load_average_at_start", load_average()},
        {"hw_counters", hw_counters()},
    };
}

} // namespace bench
