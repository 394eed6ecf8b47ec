// daemonize.hpp - detaching from the terminal (when not --foreground) without
// losing start-up errors: the parent waits until the child says it is ready,
// or exits with the child's exit code if it failed to start.
#pragma once

namespace shmqd {

// In the parent: returns -1 and sets *exit_code (0 once the child is ready).
// In the child: returns the fd to write one byte to when ready (the caller
// closes it), with stdin and stdout on /dev/null and a new session; stderr
// (the log) stays where it was.
int daemonize(int *exit_code);

} // namespace shmqd
