// run_ctl.hpp - running the real shmqctl binary from a test: to completion
// (exit code and stdout), or in the background with its stdout read line by
// line (for `watch`).
#pragma once

#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace ctltest {

struct Run {
    int code;
    std::string out;
};

// Run shmqctl with `args` (shell words), stdin from `input`; stdout captured.
inline Run ctl(const std::string &args, const std::string &input = "") {
    std::string cmd = std::string(SHMQCTL) + " " + args + " 2>/dev/null";
    if (!input.empty()) cmd = "printf '" + input + "' | " + cmd;
    FILE *p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// shmqctl running in the background; lines() reads its stdout.
class Background {
public:
    explicit Background(const std::string &args) {
        int fd[2];
        REQUIRE(pipe(fd) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            dup2(fd[1], STDOUT_FILENO);
            ::close(fd[0]);
            ::close(fd[1]);
            std::string cmd = "exec " + std::string(SHMQCTL) + " " + args + " 2>/dev/null";
            execl("/bin/sh", "sh", "-c", cmd.c_str(), (char *)nullptr);
            _exit(127);
        }
        ::close(fd[1]);
        out_ = fdopen(fd[0], "r");
    }
    ~Background() {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
        fclose(out_);
    }
    // The next line, false at EOF (the process ended).
    bool line(std::string *l) {
        char buf[1 << 16];
        if (fgets(buf, sizeof buf, out_) == nullptr) return false;
        *l = buf;
        return true;
    }

private:
    pid_t pid_ = -1;
    FILE *out_ = nullptr;
};

} // namespace ctltest
