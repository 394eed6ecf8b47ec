// shmq_util.cpp - error checking, parameter defaults and RAII for shmq queues.
// Every queue gets a "bench.<pid>.<n>" name, registered for unlinking on SIGINT.
#include "shmq_util.hpp"

#include <stdexcept>

namespace bench {

void shmq_check(int rc, const char *what) {
    if (rc != SHMQ_OK)
        throw std::runtime_error(std::string(what) + ": " + shmq_strerror(rc));
}

shmq_params bench_params(size_t msg_size, size_t slot_count) {
    shmq_params p;
    shmq_params_init(&p);
    p.slot_size = uint32_t(msg_size);
    p.slot_count = uint32_t(slot_count);
    p.overflow = SHMQ_OVERFLOW_BLOCK;
    return p;
}

shmq_options bench_default_options() {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    o.single_thread = 1;
    return o;
}

// A spin budget other than the library's default is the variant's point
// (shmq_spin: always spin; shmq_sleep: never), so it is kept fixed
// (SHMQ_WAIT_SPIN); with the default budget the handle adapts as a user's does.
// Every bench process uses each handle from one thread, and says so
// (single_thread), as a user with one thread per handle would.
shmq_options bench_options(uint32_t spin_ns) {
    shmq_options o = bench_default_options();
    if (spin_ns != o.spin_ns) o.wait = SHMQ_WAIT_SPIN;
    o.spin_ns = spin_ns;
    return o;
}

namespace {
void unlink_queue(const char *name) { shmq_unlink(name); }
} // namespace

NamedQueue::NamedQueue(const shmq_params &params) : name_(unique_name()) {
    shmq_queue *q = nullptr;
    cleanup_register(unlink_queue, name_);
    int rc = shmq_create(name_.c_str(), &params, nullptr, &q);
    if (rc != SHMQ_OK) {
        cleanup_unregister(name_);
        shmq_check(rc, ("shmq_create " + name_).c_str());
    }
    shmq_close(q);
}

NamedQueue::~NamedQueue() {
    shmq_unlink(name_.c_str());
    cleanup_unregister(name_);
}

Handle::Handle(const std::string &name, const shmq_options &options) {
    shmq_check(shmq_open(name.c_str(), &options, &q_), ("shmq_open " + name).c_str());
}

} // namespace bench
