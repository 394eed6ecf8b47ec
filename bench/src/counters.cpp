// counters.cpp - perf_event_open on the calling process for cycles,
// instructions, L1D load misses and LLC misses; user space only.
#include "counters.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace bench {

namespace {

struct Event {
    uint32_t type;
    uint64_t config;
    const char *name;
};

constexpr uint64_t kL1dReadMiss = PERF_COUNT_HW_CACHE_L1D | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
                                  (PERF_COUNT_HW_CACHE_RESULT_MISS << 16);

const Event kEventList[] = {
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, "cycles"},
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, "instructions"},
    {PERF_TYPE_HW_CACHE, kL1dReadMiss, "L1-dcache-load-misses"},
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, "cache-misses"},
};

int open_event(const Event &e) {
    perf_event_attr a{};
    a.size = sizeof a;
    a.type = e.type;
    a.config = e.config;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    return int(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
}

uint64_t read_value(int fd) {
    uint64_t v = 0;
    return read(fd, &v, sizeof v) == ssize_t(sizeof v) ? v : 0;
}

} // namespace

Counters::Counters() {
    ok_ = true;
    for (int i = 0; i < kEvents; i++)
        if ((fd_[i] = open_event(kEventList[i])) < 0)
            ok_ = false;
}

Counters::~Counters() {
    for (int fd : fd_)
        if (fd >= 0)
            close(fd);
}

void Counters::start() {
    if (!ok_)
        return;
    for (int fd : fd_) {
        ioctl(fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    }
}

CounterValues Counters::stop() {
    CounterValues v;
    if (!ok_)
        return v;
    for (int fd : fd_)
        ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    v.ok = true;
    v.cycles = read_value(fd_[0]);
    v.instructions = read_value(fd_[1]);
    v.l1d_misses = read_value(fd_[2]);
    v.llc_misses = read_value(fd_[3]);
    return v;
}

std::string counters_unavailable_reason() {
    std::ifstream f("/proc/sys/kernel/perf_event_paranoid");
    int paranoid = 0;
    if (f >> paranoid && paranoid > 2)
        return "kernel.perf_event_paranoid is " + std::to_string(paranoid) + " (> 2: no counters for unprivileged users)";
    for (const Event &e : kEventList) {
        int fd = open_event(e);
        if (fd < 0)
            return std::string("perf_event_open(") + e.name + "): " + std::strerror(errno) +
                   " (perf_event_paranoid " + std::to_string(paranoid) +
                   "; a virtual machine often exposes no hardware counters)";
        close(fd);
    }
    return "";
}

Json per_message(const CounterValues &a, const CounterValues &b, uint64_t messages) {
    if (!a.ok || !b.ok || messages == 0)
        return nullptr;
    double n = double(messages);
    auto both = [&](uint64_t CounterValues::*f) { return double(a.*f + b.*f) / n; };
    return Json{{"cycles", both(&CounterValues::cycles)},
                {"instructions", both(&CounterValues::instructions)},
                {"l1d_misses", both(&CounterValues::l1d_misses)},
                {"llc_misses", both(&CounterValues::llc_misses)},
                {"bytes_into_l1d", 64 * both(&CounterValues::l1d_misses)}};
}

} // namespace bench
