// notify.cpp - the readiness file descriptor: a consumer can hand it to
// epoll, asyncio or Go's poller instead of sleeping in shmq_recv.
//
// Each consumer that asks gets a FIFO of its own beside the segment
// (.shmq.<queue>.fd.<record>.<epoch>), opened read-write and non-blocking.
// A shmq_recv that finds nothing *arms* it: fd_waiters++ then fd_armed = 1,
// then a second look at the ring (seq_cst, the same handshake as the futex).
// A producer that sees fd_waiters > 0 after its push disarms each armed
// record and writes one byte to its FIFO, so it pays system calls only while
// such a consumer waits. A crash between the paired steps over-counts
// fd_waiters (a wasted scan), never loses a wake-up.
#include "queue.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmq::detail {

std::string Queue::fifo_path(uint32_t idx, uint32_t epoch) const {
    return segment_dir() + "/.shmq." + name_ + ".fd." + std::to_string(idx) + "." + std::to_string(epoch);
}

int Queue::ready_fd(int *out) {
    if (out == nullptr) return SHMQ_EINVAL;
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (fd_ < 0) {
        ClientWord w{rec_->word.load(std::memory_order_acquire)};
        std::string path = fifo_path(me_, w.epoch());
        unlink(path.c_str()); // a leftover of a dead process with our record
        if (mkfifo(path.c_str(), 0600) != 0) return error_from_errno(errno);
        // O_RDWR: the FIFO never reports EOF and opening never blocks.
        fd_ = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd_ < 0) {
            int rc = error_from_errno(errno);
            unlink(path.c_str());
            return rc;
        }
    }
    *out = fd_;
    return SHMQ_OK;
}

void Queue::drain_fd() {
    char buf[64];
    while (read(fd_, buf, sizeof buf) > 0) {
    }
}

void Queue::arm_fd() {
    if (fd_ < 0 || rec_->fd_armed.load(std::memory_order_relaxed) != 0) return;
    drain_fd(); // old wake-ups would make the fd readable for nothing
    hdr_->fd_waiters.fetch_add(1, std::memory_order_seq_cst);
    rec_->fd_armed.store(1, std::memory_order_seq_cst);
    // SYNC POINT: pairs with the producer's seq_cst push and fd_waiters load.
    if (ready_.maybe_nonempty()) notify_one(me_);
}

// Disarm record idx and wake its FIFO, if it was armed.
void Queue::notify_one(uint32_t idx) {
    ClientRecord *rec = client(idx);
    if (rec->fd_armed.exchange(0, std::memory_order_seq_cst) == 0) return;
    hdr_->fd_waiters.fetch_sub(1, std::memory_order_seq_cst);
    ClientWord w{rec->word.load(std::memory_order_acquire)};
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (peer_fd_.size() < p_.max_clients) peer_fd_.resize(p_.max_clients, PeerFd{0, -1});
    PeerFd &peer = peer_fd_[idx];
    if (peer.fd >= 0 && peer.epoch != w.epoch()) {
        close(peer.fd);
        peer.fd = -1;
    }
    if (peer.fd < 0) {
        peer.fd = ::open(fifo_path(idx, w.epoch()).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        peer.epoch = w.epoch();
    }
    // EAGAIN means the FIFO is full, so already readable: nothing is lost.
    if (peer.fd >= 0 && write(peer.fd, "!", 1) < 0 && errno != EAGAIN) {
        close(peer.fd);
        peer.fd = -1;
    }
}

void Queue::notify_fd_waiters() {
    for (uint32_t i = 0; i < p_.max_clients && hdr_->fd_waiters.load(std::memory_order_relaxed) > 0; ++i)
        notify_one(i);
}

// The FIFO of record idx's occupant of `epoch`, once that occupant is gone
// (closed, or dead and recovered): nobody will read it again.
void Queue::remove_fifo(uint32_t idx, uint32_t epoch) const { unlink(fifo_path(idx, epoch).c_str()); }

void Queue::close_fds() {
    std::lock_guard<std::mutex> lock(fd_mu_);
    for (PeerFd &peer : peer_fd_)
        if (peer.fd >= 0) close(peer.fd);
    peer_fd_.clear();
    if (fd_ >= 0) {
        close(fd_);
        ClientWord w{rec_->word.load(std::memory_order_acquire)};
        remove_fifo(me_, w.epoch());
        fd_ = -1;
    }
}

} // namespace shmq::detail
