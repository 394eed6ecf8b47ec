// daemonize.cpp - fork, setsid, and a pipe for "ready" (daemonize.hpp).
// Call it before any thread exists.
#include "daemonize.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shmqd {

static int wait_ready(int fd, pid_t child) {
    char c = 0;
    ssize_t n;
    do {
        n = read(fd, &c, 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n == 1) return 0;
    int status = 0; // the child closed the pipe without a word: it exited
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int daemonize(int *exit_code) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("shmqd: pipe");
        *exit_code = 1;
        return -1;
    }
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("shmqd: fork");
        *exit_code = 1;
        return -1;
    }
    if (pid > 0) {
        close(p[1]);
        *exit_code = wait_ready(p[0], pid);
        return -1;
    }
    close(p[0]);
    setsid();
    if (chdir("/") != 0) perror("shmqd: chdir /"); // paths from the config are absolute by now
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        close(null);
    }
    return p[1];
}

} // namespace shmqd
