// segment.cpp - segment layout, creation, validation and removal (segment.hpp).
#include "segment.hpp"

#include "atomic.hpp"
#include "crashpoint.hpp"
#include "names.hpp"
#include "ring.hpp"
#include "sys.hpp"
#include "words.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmq::detail {

constexpr uint32_t kMaxTimeMs = 86400000; // one day: keeps ms-time comparisons unambiguous

std::string segment_dir() {
    const char *d = getenv("SHMQ_DIR");
    return d != nullptr && *d != '\0' ? d : "/dev/shm";
}

std::string segment_path(const char *name) { return segment_dir() + "/shmq." + name; }

int error_from_errno(int e) {
    switch (e) {
    case ENOENT: return SHMQ_ENOTFOUND;
    case EEXIST: return SHMQ_EEXIST;
    case EACCES:
    case EPERM:
    case ELOOP: return SHMQ_EPERM; // ELOOP: a symlink where the segment should be
    case ENOSPC:
    case ENOMEM:
    case EFBIG: return SHMQ_ENOSPACE;
    case EINTR: return SHMQ_EINTR;
    default: return SHMQ_ESYS;
    }
}

static bool params_in_range(const shmq_params &in) {
    auto within = [](uint32_t v, uint32_t lo, uint32_t hi) { return v >= lo && v <= hi; };
    return within(in.slot_size, 1, kMaxSlotSize) && within(in.slot_count, 1, kMaxSlots) &&
           within(in.max_clients, 2, kMaxClients) && within(in.lease_ms, 1, kMaxTimeMs) &&
           within(in.max_attempts, 1, 1000000) && in.backoff_cap_ms <= kMaxTimeMs &&
           in.backoff_base_ms <= in.backoff_cap_ms && in.jitter <= SHMQ_JITTER_EQUAL &&
           in.overflow <= SHMQ_OVERFLOW_SPILL && (in.mode & ~0660u) == 0 &&
           (in.mode & 0600u) == 0600u && in.ttl_ms <= SHMQ_MAX_TTL_NS / 1000000 &&
           in.max_groups <= kMaxGroups && in.dedup_window_ms <= SHMQ_MAX_DEDUP_WINDOW_MS &&
           in.dedup_capacity <= SHMQ_MAX_DEDUP_CAPACITY &&
           in.durability <= SHMQ_DURABILITY_DISK && (in.durability == SHMQ_DURABILITY_MEMORY || in.max_groups == 0);
}

int check_new_params(const shmq_params &in) {
    // A table no send can use: only a window turns deduplication on.
    if (in.dedup_capacity != 0 && in.dedup_window_ms == 0) return SHMQ_EINVAL;
    // shmqd spills when READY passes a mark below slot_count (a topic's group
    // backlog is 1 .. slot_count - 1): with one slot there is no such mark.
    if (in.overflow == SHMQ_OVERFLOW_SPILL && in.slot_count < 2) return SHMQ_EINVAL;
    return SHMQ_OK;
}

int compute_layout(const shmq_params &in, Params &out) {
    if (in.struct_size < sizeof(shmq_params) || !params_in_range(in)) return SHMQ_EINVAL;
    out = Params{};
    out.slot_size = in.slot_size;
    out.slot_count = in.slot_count;
    out.max_clients = in.max_clients;
    out.lease_ms = in.lease_ms;
    out.max_attempts = in.max_attempts;
    out.backoff_base_ms = in.backoff_base_ms;
    out.backoff_cap_ms = in.backoff_cap_ms;
    out.jitter = in.jitter;
    out.overflow = in.overflow;
    out.mode = in.mode;
    out.ttl_ms = in.ttl_ms;
    out.groups = in.max_groups;
    out.durability = in.durability;
    out.ring_cap = next_pow2(2 * in.slot_count);
    out.slot_stride = uint32_t(sizeof(SlotHeader) + align_up(in.slot_size, kLine));
    out.off_clients = align_up(sizeof(Header), kLine);
    out.off_slots = out.off_clients + uint64_t(in.max_clients) * sizeof(ClientRecord);
    out.off_ready_ring = out.off_slots + uint64_t(out.slot_stride) * in.slot_count;
    uint64_t ring_bytes = sizeof(RingHeader) + uint64_t(out.ring_cap) * sizeof(A64);
    out.off_free_ring = out.off_ready_ring + align_up(ring_bytes, kLine);
    // A topic's group lanes (topic.cpp): header, a slot header per slot, ring.
    out.off_lanes = align_up(out.off_free_ring + ring_bytes, kLine);
    out.lane_stride = out.groups == 0 ? 0
                                      : align_up(sizeof(LaneHeader) + uint64_t(sizeof(SlotHeader)) * in.slot_count +
                                                     align_up(ring_bytes, kLine),
                                                 kLine);
    // The deduplication table (dedup.cpp), only with a window.
    out.dedup_window_ms = in.dedup_window_ms;
    out.dedup_capacity = in.dedup_window_ms == 0 ? 0
                         : next_pow2(in.dedup_capacity != 0 ? in.dedup_capacity
                                                            : std::min(2 * in.slot_count, SHMQ_MAX_DEDUP_CAPACITY));
    out.off_dedup = align_up(out.off_lanes + out.lane_stride * out.groups, kLine);
    out.total_size = align_up(out.off_dedup + uint64_t(sizeof(DedupEntry)) * out.dedup_capacity, 4096);
    return SHMQ_OK;
}

static shmq_params public_params(const Params &p) {
    shmq_params q;
    shmq_params_init(&q);
    q.slot_size = p.slot_size;
    q.slot_count = p.slot_count;
    q.max_clients = p.max_clients;
    q.lease_ms = p.lease_ms;
    q.max_attempts = p.max_attempts;
    q.backoff_base_ms = p.backoff_base_ms;
    q.backoff_cap_ms = p.backoff_cap_ms;
    q.jitter = p.jitter;
    q.overflow = p.overflow;
    q.mode = p.mode;
    q.ttl_ms = p.ttl_ms;
    q.max_groups = p.groups;
    q.dedup_window_ms = p.dedup_window_ms;
    q.dedup_capacity = p.dedup_capacity;
    q.durability = p.durability;
    return q;
}

int validate_segment(const void *base, size_t size, Params *out) {
    if (base == nullptr || size < sizeof(Header)) return SHMQ_ECORRUPT;
    const auto *h = static_cast<const Header *>(base);
    uint64_t magic = h->magic.load(std::memory_order_acquire);
    if (magic != kMagic) return SHMQ_ECORRUPT;
    if (h->layout_version != kLayoutVersion || h->fingerprint != layout_fingerprint())
        return SHMQ_EVERSION;
    // Recompute the layout from the stored parameters: every offset must agree,
    // so no offset read from shared memory is ever trusted on its own.
    Params stored;
    std::memcpy(&stored, &h->params, sizeof stored);
    Params fresh;
    if (compute_layout(public_params(stored), fresh) != SHMQ_OK) return SHMQ_ECORRUPT;
    if (std::memcmp(&fresh, &stored, sizeof fresh) != 0 || fresh.total_size != size)
        return SHMQ_ECORRUPT;
    if (out != nullptr) *out = fresh;
    return SHMQ_OK;
}

// A random tag for the segment, so that a receipt of one queue is refused by
// another (queue.hpp). Zero is avoided so that an all-zero receipt never matches.
static uint32_t random_tag() {
    uint32_t t = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &t, sizeof t) != ssize_t(sizeof t)) t = 0;
        close(fd);
    }
    if (t == 0) t = uint32_t(real_ns() ^ (uint64_t(getpid()) << 16)) | 1;
    return t;
}

// A topic's group lane: unbound, every group word FREE, an empty ring.
static void init_lane(char *lane, const Params &p) {
    new (lane) LaneHeader{};
    char *slots = lane + sizeof(LaneHeader);
    for (uint32_t i = 0; i < p.slot_count; ++i) {
        auto *s = new (slots + uint64_t(i) * sizeof(SlotHeader)) SlotHeader{};
        s->state.store(SlotWord::make(SlotState::Free, kNoOwner, 0, 0).raw, std::memory_order_relaxed);
        s->listed_pos.store(kUnlisted, std::memory_order_relaxed);
    }
    auto *ring = reinterpret_cast<RingHeader *>(slots + uint64_t(p.slot_count) * sizeof(SlotHeader));
    Ring::init(ring, reinterpret_cast<A64 *>(ring + 1), p.ring_cap);
}

// Fill a zeroed segment: every slot FREE and in the free ring. `magic` last.
static void init_segment(void *base, const Params &p, const BootId &boot) {
    auto *h = new (base) Header{};
    h->layout_version = kLayoutVersion;
    h->header_size = sizeof(Header);
    h->fingerprint = layout_fingerprint();
    h->created_ns = real_ns();
    h->epoch_mono_ns = mono_ns() - 1000000000; // ms-times start at 1000: 0 can mean "never"
    h->creator_pid = int32_t(getpid());
    h->tag = random_tag();
    std::memcpy(h->boot_id, boot.bytes, sizeof h->boot_id);
    h->params = p;
    h->next_id.store(1, std::memory_order_relaxed);
    char *b = static_cast<char *>(base);
    for (uint32_t i = 0; i < p.max_clients; ++i)
        new (b + p.off_clients + i * sizeof(ClientRecord)) ClientRecord{};
    auto *ready = reinterpret_cast<RingHeader *>(b + p.off_ready_ring);
    auto *free_ring = reinterpret_cast<RingHeader *>(b + p.off_free_ring);
    Ring::init(ready, reinterpret_cast<A64 *>(ready + 1), p.ring_cap);
    Ring::init(free_ring, reinterpret_cast<A64 *>(free_ring + 1), p.ring_cap);
    Ring fr(free_ring, reinterpret_cast<A64 *>(free_ring + 1), p.ring_cap, "", "");
    for (uint32_t i = 0; i < p.slot_count; ++i) {
        auto *s = new (b + p.off_slots + uint64_t(i) * p.slot_stride) SlotHeader{};
        s->state.store(SlotWord::make(SlotState::Free, kNoOwner, 0, 0).raw, std::memory_order_relaxed);
        s->listed_pos.store(kUnlisted, std::memory_order_relaxed);
        (void)fr.push(i); // cannot fail: the ring holds twice the slots
    }
    for (uint32_t k = 0; k < p.groups; ++k) init_lane(b + p.off_lanes + k * p.lane_stride, p);
    h->magic.store(kMagic, std::memory_order_release);
}

static int map_fd(int fd, size_t size, Mapping *out) {
    void *base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return error_from_errno(errno);
    SHMQ_EXPLORE_MAPPED(base, size, true);
    out->base = base;
    out->size = size;
    return SHMQ_OK;
}

// Size the file and reserve its pages now, so a full /dev/shm fails here with
// SHMQ_ENOSPACE instead of a SIGBUS on first touch later.
static int size_file(int fd, const Params &p) {
    if (ftruncate(fd, off_t(p.total_size)) != 0) return error_from_errno(errno);
    int e = posix_fallocate(fd, 0, off_t(p.total_size));
    return e == 0 ? SHMQ_OK : error_from_errno(e);
}

// The segment directory must exist: say so rather than "no such queue".
static int check_dir() {
    struct stat st;
    if (stat(segment_dir().c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return SHMQ_OK;
    errno = ENOENT;
    return SHMQ_ESYS;
}

int segment_create(const char *name, const Params &p, Mapping *out) {
    static std::atomic<unsigned> counter{0};
    if (int rc = check_dir(); rc != SHMQ_OK) return rc;
    BootId boot;
    if (int rc = current_boot_id(&boot); rc != SHMQ_OK) return rc;
    std::string path = segment_path(name);
    std::string tmp = segment_dir() + "/.shmq." + name + ".tmp." + std::to_string(getpid()) + "." +
                      std::to_string(counter.fetch_add(1));
    int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, p.mode);
    if (fd < 0 && errno == EEXIST && unlink(tmp.c_str()) == 0) // left by a dead process with our pid
        fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, p.mode);
    if (fd < 0) return error_from_errno(errno);
    int rc = fchmod(fd, p.mode) == 0 ? SHMQ_OK : error_from_errno(errno); // undo the umask
    if (rc == SHMQ_OK) rc = size_file(fd, p);
    if (rc == SHMQ_OK) rc = map_fd(fd, p.total_size, out);
    close(fd);
    if (rc == SHMQ_OK) {
        init_segment(out->base, p, boot);
        SHMQ_CRASH_POINT("create.before_link");
        // link() fails if the name exists: creating is atomic and exclusive.
        if (link(tmp.c_str(), path.c_str()) != 0) {
            rc = error_from_errno(errno);
            segment_unmap(out);
        }
    }
    unlink(tmp.c_str());
    return rc;
}

int segment_open(const char *name, Mapping *out, Params *p, int *fd_out) {
    std::string path = segment_path(name);
    int fd = open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && check_dir() != SHMQ_OK) return SHMQ_ESYS;
    if (fd < 0) return error_from_errno(errno);
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? SHMQ_OK : error_from_errno(errno);
    if (rc == SHMQ_OK && !S_ISREG(st.st_mode)) rc = SHMQ_ECORRUPT;
    // Never trust a segment others may read or write: create refuses such modes too.
    if (rc == SHMQ_OK && (st.st_mode & 0007) != 0) rc = SHMQ_EPERM;
    if (rc == SHMQ_OK && size_t(st.st_size) < sizeof(Header)) rc = SHMQ_ECORRUPT;
    if (rc == SHMQ_OK) rc = map_fd(fd, size_t(st.st_size), out);
    if (rc == SHMQ_OK) rc = validate_segment(out->base, out->size, p);
    if (rc != SHMQ_OK) segment_unmap(out);
    if (rc == SHMQ_OK && fd_out != nullptr) *fd_out = fd;
    else close(fd);
    return rc;
}

void segment_unmap(Mapping *m) {
    if (m->base != nullptr) SHMQ_EXPLORE_MAPPED(m->base, m->size, false);
    if (m->base != nullptr) munmap(m->base, m->size);
    m->base = nullptr;
    m->size = 0;
}

int segment_unlink(const char *name) {
    int rc = check_name(name);
    if (rc != SHMQ_OK) return rc;
    Mapping m;
    Params p;
    if (segment_open(name, &m, &p) == SHMQ_OK) {
        // Tell everyone still attached, and wake whoever sleeps.
        auto *h = static_cast<Header *>(m.base);
        h->unlinked.store(1, std::memory_order_release);
        for (A64 *ev : {&h->ready_wait, &h->space_wait}) {
            ev->fetch_add(1); // a new epoch: nobody sleeps on the old one
            futex_wake(ev->raw(), INT32_MAX);
        }
        segment_unmap(&m);
    }
    return unlink(segment_path(name).c_str()) == 0 ? SHMQ_OK : error_from_errno(errno);
}

} // namespace shmq::detail
