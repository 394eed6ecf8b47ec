// crashpoint.hpp - named places where a test can make this process die.
//
// Compiled in only when SHMQ_CRASH_POINTS is defined (the test build of the
// library); in the installed library SHMQ_CRASH_POINT() is nothing. A test arms
// one point by name, optionally skipping its first N hits, and the process
// SIGKILLs itself when it gets there, as a real crash would.
#pragma once

namespace shmq::detail {

#ifdef SHMQ_CRASH_POINTS
void crash_point(const char *name);
#define SHMQ_CRASH_POINT(name) ::shmq::detail::crash_point(name)
#else
#define SHMQ_CRASH_POINT(name) ((void)(name))
#endif

// Arm `name` (NULL disarms): die at its (skip+1)-th hit. Test builds only.
void crash_point_arm(const char *name, unsigned skip);
// The names of all crash points, NULL-terminated. Test builds only.
extern const char *const kCrashPoints[];

} // namespace shmq::detail
