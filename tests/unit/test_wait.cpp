// How blocking calls wait: the adaptive spin budget (spin.hpp) on its own,
// the wait option's validation, and what an idle waiter costs in CPU.
#include "support.hpp"

#include "spin.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <sys/resource.h>

using namespace testing;
using shmq::detail::SpinBudget;

TEST_CASE("adaptive budget: halves when a spin runs out, doubles when one succeeds, within floor and spin_ns") {
    SpinBudget b;
    b.init(64000, true);
    CHECK(b.get() == 64000);
    b.spun_out();
    CHECK(b.get() == 32000);
    for (int k = 0; k < 20; ++k) b.spun_out();
    CHECK(b.get() == SpinBudget::kFloorNs);
    b.spun_ok(10000); // a wait that took 10 us is worth a 40 us spin
    CHECK(b.get() == 40000);
    b.spun_out();
    CHECK(b.get() == 20000);
    b.spun_ok(1000); // any success doubles it: a few undo a hiccup
    CHECK(b.get() == 40000);
    b.spun_ok(1000);
    CHECK(b.get() == 64000);
    b.spun_ok(1000000);
    CHECK(b.get() == 64000);
}

TEST_CASE("adaptive budget: a descheduled spinner drops to the floor; a short sleep doubles it back") {
    SpinBudget b;
    b.init(64000, true);
    b.preempted();
    CHECK(b.get() == SpinBudget::kFloorNs);
    b.slept_ok(10000); // woken 10 us after sleeping: spinning would have won
    CHECK(b.get() == 2 * SpinBudget::kFloorNs);
    b.slept_ok(200000); // a long sleep says nothing about spinning
    CHECK(b.get() == 2 * SpinBudget::kFloorNs);
}

TEST_CASE("SHMQ_WAIT_SPIN keeps spin_ns whatever happens; spin_ns 0 never spins") {
    SpinBudget fixed;
    fixed.init(64000, false);
    fixed.spun_out();
    fixed.preempted();
    CHECK(fixed.get() == 64000);
    SpinBudget none;
    none.init(0, true);
    none.spun_ok(5000);
    none.slept_ok(10);
    CHECK(none.get() == 0);
}

TEST_CASE("the wait option: an unknown policy is refused, 0.3's shorter options struct is accepted") {
    TestQueue t("waitopt");
    shmq_options o;
    shmq_options_init(&o);
    CHECK(o.wait == SHMQ_WAIT_ADAPTIVE);
    o.wait = 7;
    shmq_queue *q = nullptr;
    CHECK(shmq_open(t.name.c_str(), &o, &q) == SHMQ_EINVAL);
    CHECK(q == nullptr);
    o.struct_size = offsetof(shmq_options, wait); // 0.3's sizeof(shmq_options): the field is not read
    REQUIRE(shmq_open(t.name.c_str(), &o, &q) == SHMQ_OK);
    shmq_close(q);
    o.struct_size = offsetof(shmq_options, spin_ns);
    CHECK(shmq_open(t.name.c_str(), &o, &q) == SHMQ_EINVAL);
}

// The exported entry point that binaries built against 0.3 call.
extern "C" void shmq_options_init_v03(shmq_options *o) __asm__("shmq_options_init");

TEST_CASE("a binary built against 0.3 gets its 12-byte options filled, and nothing written past them") {
    struct {
        uint32_t v03[3]; // struct_size, prefetch, spin_ns
        uint32_t canary[3];
    } buf;
    std::memset(&buf, 0xAB, sizeof buf);
    shmq_options_init_v03(reinterpret_cast<shmq_options *>(&buf));
    CHECK(buf.v03[0] == offsetof(shmq_options, wait));
    CHECK(buf.v03[1] == 64);
    CHECK(buf.v03[2] == 20000);
    for (uint32_t c : buf.canary) CHECK(c == 0xABABABABu);
    TestQueue t("v03opts");
    shmq_queue *q = nullptr;
    REQUIRE(shmq_open(t.name.c_str(), reinterpret_cast<shmq_options *>(&buf), &q) == SHMQ_OK);
    shmq_close(q);
    shmq_options small;
    std::memset(&small, 0xAB, sizeof small);
    shmq_options_init_sized(&small, 8); // shorter than any version's struct: left alone
    CHECK(small.struct_size == 0xABABABABu);
}

namespace {

// CPU time this thread used while waiting `rounds` times on an empty queue.
int64_t idle_cpu_ns(const std::string &name, uint32_t wait, int rounds) {
    shmq_options o;
    shmq_options_init(&o);
    o.spin_ns = 4000000; // 4 ms: a budget that does not pay on an idle queue
    o.wait = wait;
    shmq_queue *q = nullptr;
    REQUIRE(shmq_open(name.c_str(), &o, &q) == SHMQ_OK);
    rusage before{}, after{};
    getrusage(RUSAGE_THREAD, &before);
    shmq_msg m;
    for (int k = 0; k < rounds; ++k) REQUIRE(shmq_recv(q, &m, 6000000) == SHMQ_ETIMEDOUT);
    getrusage(RUSAGE_THREAD, &after);
    shmq_close(q);
    auto ns = [](const rusage &r) {
        return (int64_t(r.ru_utime.tv_sec) + r.ru_stime.tv_sec) * 1000000000 +
               (int64_t(r.ru_utime.tv_usec) + r.ru_stime.tv_usec) * 1000;
    };
    return ns(after) - ns(before);
}

} // namespace

TEST_CASE("an idle consumer with the default wait stops spinning; SHMQ_WAIT_SPIN spins every time") {
    // Same run, same machine: the fixed budget spins 4 ms in each of 40
    // waits; the adaptive one halves after every fruitless spin, so its
    // total is bounded by about 2 x 4 ms however many waits follow.
    TestQueue t("idlespin");
    int64_t adaptive = idle_cpu_ns(t.name, SHMQ_WAIT_ADAPTIVE, 40);
    int64_t fixed = idle_cpu_ns(t.name, SHMQ_WAIT_SPIN, 40);
    MESSAGE("CPU while idle: adaptive " << adaptive / 1000 << " us, spin " << fixed / 1000 << " us");
    CHECK(adaptive * 3 < fixed);
}
