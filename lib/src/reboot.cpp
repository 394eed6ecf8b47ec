// reboot.cpp - a segment that outlived its boot (docs/durability.md).
//
// Every segment records the kernel's boot id. Opening a MEMORY segment of
// another boot is refused (SHMQ_EREBOOTED): its contents were never made
// durable. A DISK segment of another boot is rebuilt before anyone attaches,
// under an exclusive lock on its file (lock_file; the kernel drops it if the
// rebuilder dies): client records freed (pids of another boot mean nothing), rings
// re-initialised, and each slot judged by its state word and checksum. The
// boot id is written last, so a rebuild killed midway is redone whole by the
// next opener; every step below gives the same result when repeated.
#include "crc32c.hpp"
#include "queue.hpp"
#include "sys.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace shmq::detail {

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// 32 hex digits, dashes anywhere ignored (the kernel's format has four).
static bool parse_boot_id(const char *s, size_t n, BootId *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '-') continue;
        int d = hex_digit(s[i]);
        if (d < 0 || k >= 32) return false;
        out->bytes[k / 2] = uint8_t(k % 2 == 0 ? d << 4 : out->bytes[k / 2] | d);
        ++k;
    }
    return k == 32;
}

int current_boot_id(BootId *out) {
    const char *env = getenv("SHMQ_BOOT_ID");
    if (env != nullptr && *env != '\0') return parse_boot_id(env, strlen(env), out) ? SHMQ_OK : SHMQ_EINVAL;
    char buf[64];
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SHMQ_ESYS;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) --n;
    return n > 0 && parse_boot_id(buf, size_t(n), out) ? SHMQ_OK : SHMQ_ESYS;
}

bool on_tmpfs(const std::string &dir) {
    struct statfs fs;
    return statfs(dir.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

// The checksum of slot i's message: the header fields a consumer trusts
// (id, enqueued_ns, len, headers_len, expires_ms) and the payload with its
// encoded headers. `attempts` is not covered (every lease changes it). False
// when the lengths do not fit the slot (nothing to checksum).
bool Queue::slot_crc(uint32_t i, uint32_t *out) const {
    const SlotHeader *s = slot(i);
    struct {
        uint64_t id;
        int64_t enqueued_ns;
        uint32_t len, headers_len, expires_ms, zero;
    } f{s->id.load(std::memory_order_relaxed), s->enqueued_ns.load(std::memory_order_relaxed),
        s->len.load(std::memory_order_relaxed), s->headers_len.load(std::memory_order_relaxed),
        s->expires_ms.load(std::memory_order_relaxed), 0};
    if (f.len > p_.slot_size || f.headers_len > p_.slot_size - f.len) return false;
    *out = crc32c(crc32c(0, &f, sizeof f), payload(i), f.len + f.headers_len);
    return true;
}

// A DISK queue's sender, before the CAS that makes slot i READY or DELAYED
// (memory queues never call it: they pay nothing).
void Queue::seal(uint32_t i) {
    uint32_t c = 0;
    if (slot_crc(i, &c)) slot(i)->crc.store(c, std::memory_order_relaxed);
}

bool Queue::sound(uint32_t i) const {
    uint32_t c = 0;
    return slot_crc(i, &c) && c == slot(i)->crc.load(std::memory_order_relaxed);
}

// The rebuild's lock: an open-file-description lock on the file's first
// byte, waited for. Not flock(): shmqd holds an flock on every segment it
// supervises (daemon/shmqd/lockfile.hpp), and the two kinds never conflict
// on Linux. Like flock, the kernel drops it when its holder dies.
static int lock_file(int fd, short type) {
#ifdef SHMQ_EXPLORE // the harness's processes share one file table: it models the lock (sim.cpp)
    (void)fd;
    explore_flock(type != F_UNLCK);
    return SHMQ_OK;
#else
    struct flock fl{};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    while (fcntl(fd, type == F_UNLCK ? F_OFD_SETLK : F_OFD_SETLKW, &fl) != 0)
        if (errno != EINTR) return error_from_errno(errno);
    return SHMQ_OK;
#endif
}

// Called by open before attaching (the handle is mapped, not bound).
int Queue::check_boot(int fd) {
    BootId now;
    if (int rc = current_boot_id(&now); rc != SHMQ_OK) return rc;
    auto *h = static_cast<Header *>(map_.base);
    if (p_.durability != SHMQ_DURABILITY_DISK)
        return std::memcmp(h->boot_id, now.bytes, sizeof now.bytes) == 0 ? SHMQ_OK : SHMQ_EREBOOTED;
    if (int rc = lock_file(fd, F_WRLCK); rc != SHMQ_OK) return rc;
    if (std::memcmp(h->boot_id, now.bytes, sizeof now.bytes) != 0) {
        bind();
        rebuild();
        // SYNC POINT: the boot id is written after every store of the
        // rebuild; until it is, any opener (after our death) rebuilds again.
        // Openers read only under the file lock (a system call orders
        // memory), so what must hold is program order: a compiler fence
        // (a thread fence is also refused by -fsanitize=thread).
        std::atomic_signal_fence(std::memory_order_release);
        std::memcpy(h->boot_id, now.bytes, sizeof now.bytes);
    }
    lock_file(fd, F_UNLCK);
    return SHMQ_OK;
}

// Lease and retry times are ms since epoch_mono_ns, a CLOCK_MONOTONIC of
// the old boot. created_ns (CLOCK_REALTIME) and the epoch were taken together
// at create (epoch = then - 1 s), so ms-time t is the wall-clock instant
// created_ns - 1 s + t ms; the new epoch keeps that true on this boot's
// monotonic clock. Computed from created_ns alone, so a redone rebuild gets
// the same epoch (to the clocks' jitter).
void Queue::rebase_epoch() {
    const int64_t now_mono = mono_ns(), now_real = real_ns();
    hdr_->epoch_mono_ns = now_mono - (now_real - (hdr_->created_ns - 1000000000));
    epoch_ = hdr_->epoch_mono_ns;
}

// Everything of the old boot's processes: records, sleepers, daemon, dedup.
void Queue::forget_processes() {
    for (uint32_t i = 0; i < p_.max_clients; ++i) { // freed as recovery frees them; counters kept (totals)
        ClientRecord *rec = client(i);
        ClientWord w{rec->word.load(std::memory_order_relaxed)};
        if (w.state() != ClientState::Free)
            rec->word.store(ClientWord::make(ClientState::Free, w.epoch() + 1, 0).raw, std::memory_order_relaxed);
        for (A32 *f : {&rec->leased, &rec->returned, &rec->sleeping, &rec->space_sleeping, &rec->fd_armed})
            f->store(0, std::memory_order_relaxed);
        for (auto &pd : rec->pending) pd.target.store(0, std::memory_order_relaxed);
    }
    hdr_->daemon_heartbeat_ms.store(0, std::memory_order_relaxed);
    hdr_->last_recover_ms.store(0, std::memory_order_relaxed);
    hdr_->daemon_pid.store(0, std::memory_order_relaxed);
    hdr_->spill_full.store(0, std::memory_order_relaxed);
    hdr_->ready_wait.store(0, std::memory_order_relaxed);
    hdr_->space_wait.store(0, std::memory_order_relaxed);
    hdr_->fd_waiters.store(0, std::memory_order_relaxed);
    hdr_->relist.store(0, std::memory_order_relaxed);
    hdr_->flush_waiters.store(0, std::memory_order_relaxed);
    hdr_->flush_done.store(hdr_->flush_started.load(std::memory_order_relaxed), std::memory_order_relaxed);
    // The deduplication window does not survive a host crash (docs/dedup.md).
    for (uint32_t e = 0; e < p_.dedup_capacity; ++e) new (dedup_entry(e)) DedupEntry{};
    hdr_->dedup_probe.store(0, std::memory_order_relaxed);
}

constexpr uint32_t kMaxDelayMs = uint32_t(SHMQ_MAX_DELAY_NS / 1000000);

// Slot i's word as this boot sees it, or the word unchanged. Messages whose
// checksum fails become DEAD(invalid) (the caller counts them).
SlotWord Queue::judge(uint32_t i, SlotWord w, uint32_t now) {
    switch (w.state()) {
    case SlotState::Writing: return w.next(SlotState::Free, kNoOwner, 0);
    case SlotState::Ready:
    case SlotState::Leased:
    case SlotState::Delayed:
        if (!sound(i)) return w.next(SlotState::Dead, kNoOwner, uint32_t(DeadReason::Invalid));
        // A due time further ahead than any delay is one long past, wrapped.
        if (w.state() == SlotState::Delayed && int32_t(w.time() - now) > int32_t(kMaxDelayMs))
            return w.next(SlotState::Delayed, kNoOwner, now);
        if (w.state() == SlotState::Leased) return w.next(SlotState::Ready, kNoOwner, 0); // its delivery stays counted
        return w;
    default: return w;
    }
}

// The rebuild proper (check_boot). Slots keep their messages: READY and
// DELAYED ones with a sound checksum stay, LEASED ones become READY, WRITING
// ones are freed; DEAD ones stay for shmqd. READY slots are listed in id
// order (FIFO holds), FREE ones in the free ring; DELAYED ones wait for the
// first recovery pass (next_due_ms says one is owed).
void Queue::rebuild() {
    rebase_epoch();
    forget_processes();
    const uint32_t now = now_ms();
    auto *rr = reinterpret_cast<RingHeader *>(base() + p_.off_ready_ring);
    auto *fr = reinterpret_cast<RingHeader *>(base() + p_.off_free_ring);
    Ring::init(rr, reinterpret_cast<A64 *>(rr + 1), p_.ring_cap);
    Ring::init(fr, reinterpret_cast<A64 *>(fr + 1), p_.ring_cap);
    bind(); // fresh ring views (their cached positions were of the old rings)
    std::vector<std::pair<uint64_t, uint32_t>> ready;
    uint64_t next = hdr_->next_id.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < p_.slot_count; ++i) {
        SlotWord w{slot(i)->state.load(std::memory_order_relaxed)};
        SlotWord to = judge(i, w, now);
        if (to.raw != w.raw) slot(i)->state.store(to.raw, std::memory_order_relaxed);
        // Counted after the store: a rebuild killed in between counts one
        // too few (a redo sees DEAD), never one twice.
        if (to.state() == SlotState::Dead && w.state() != SlotState::Dead)
            hdr_->quarantined.fetch_add(1, std::memory_order_relaxed);
        slot(i)->listed_pos.store(kUnlisted, std::memory_order_relaxed);
        uint64_t id = slot(i)->id.load(std::memory_order_relaxed);
        if (to.state() == SlotState::Free) list(i, kFreeRing);
        else if (to.state() == SlotState::Ready) ready.emplace_back(id, i);
        bool trusted = to.state() == SlotState::Ready || to.state() == SlotState::Delayed ||
                       (to.state() == SlotState::Dead && to.time() != uint32_t(DeadReason::Invalid));
        if (trusted && id >= next) next = id + 1;
    }
    std::sort(ready.begin(), ready.end());
    for (const auto &r : ready) list(r.second, kReadyRing);
    hdr_->next_id.store(next, std::memory_order_relaxed);
    hdr_->next_due_ms.store(1, std::memory_order_relaxed); // kScanning: a full recovery pass is owed
}

} // namespace shmq::detail
