// segment.hpp - creating, validating, mapping and unlinking one queue's segment.
//
// A segment is built under a hidden temporary name and linked to its final name
// only once fully initialised, so no process can ever open a half-made one.
// Opening validates everything in the header against this build's layout and
// returns the validated parameters; callers use that copy, not shared memory.
#pragma once

#include "layout.hpp"
#include "shmq/shmq.h"

#include <cstddef>
#include <string>

namespace shmq::detail {

struct Mapping {
    void *base = nullptr;
    size_t size = 0;
};

// Where segments live: $SHMQ_DIR if set (tests), else /dev/shm.
std::string segment_dir();
std::string segment_path(const char *name);

// Turn public parameters into a full layout. SHMQ_EINVAL on any out-of-range value.
int compute_layout(const shmq_params &in, Params &out);
// What only a new queue is refused for (shmq_create): parameters in range
// that make no sense together. Not part of compute_layout, so a segment made
// before the rule still opens. SHMQ_OK or SHMQ_EINVAL.
int check_new_params(const shmq_params &in);

// Check a segment image of `size` bytes. On SHMQ_OK, *out holds its parameters,
// all offsets proven to lie inside the image. Never reads outside [base, base+size).
int validate_segment(const void *base, size_t size, Params *out);

int segment_create(const char *name, const Params &p, Mapping *out);
// With fd_out, the segment's file stays open for the caller (reboot.cpp's lock).
int segment_open(const char *name, Mapping *out, Params *p, int *fd_out = nullptr);
void segment_unmap(Mapping *m);
int segment_unlink(const char *name);

// The kernel's boot id (/proc/sys/kernel/random/boot_id), or $SHMQ_BOOT_ID
// (32 hex digits, dashes ignored: tests and containers simulate a reboot
// with it). SHMQ_EINVAL for a SHMQ_BOOT_ID that is not that; SHMQ_ESYS when
// the kernel's cannot be read (reboot.cpp).
struct BootId {
    uint8_t bytes[16];
};
int current_boot_id(BootId *out);
// Is directory `dir` on tmpfs (a DISK queue there survives no reboot)?
bool on_tmpfs(const std::string &dir);

// Map errno from a system call to the closest shmq_error.
int error_from_errno(int e);

} // namespace shmq::detail
