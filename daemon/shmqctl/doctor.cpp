// doctor.cpp - `shmqctl doctor`: checks the segment directory and every
// queue in it, and says what to do about each problem it finds. With --fix
// it removes what is provably stale (temporary files of dead creators).
// The exit code is for alerting: 0 all ok, 6 warnings only, 5 errors.
#include "cmd.hpp"
#include "segment.hpp"
#include "sys.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace shmqctl {

namespace {

constexpr long kTmpfsMagic = 0x01021994;

struct Findings {
    nlohmann::json items = nlohmann::json::array();
    int errors = 0, warnings = 0;
    void add(const char *level, const std::string &what, const std::string &todo = "") {
        items.push_back({{"level", level}, {"what", what}, {"todo", todo}});
        if (std::strcmp(level, "error") == 0) ++errors;
        if (std::strcmp(level, "warn") == 0) ++warnings;
    }
    const char *status() const { return errors > 0 ? "error" : warnings > 0 ? "warn" : "ok"; }
    int code() const { return errors > 0 ? kFailed : warnings > 0 ? kWarnings : kOk; }
};

void check_dir(Findings &f) {
    std::string dir = shmq::detail::segment_dir();
    struct statfs fs;
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        f.add("error", dir + " does not exist", "mount a tmpfs there or set SHMQ_DIR");
        return;
    }
    if (statfs(dir.c_str(), &fs) == 0) {
        double free_mb = double(fs.f_bavail) * double(fs.f_bsize) / 1048576.0;
        double size_mb = double(fs.f_blocks) * double(fs.f_bsize) / 1048576.0;
        char buf[160];
        snprintf(buf, sizeof buf, "%s: %.0f MiB free of %.0f MiB%s", dir.c_str(), free_mb, size_mb,
                 long(fs.f_type) == kTmpfsMagic ? " (tmpfs)" : " (not tmpfs: segments will hit the disk)");
        f.add(free_mb < 64 ? "warn" : "ok", buf,
              free_mb < 64 ? "grow it (containers default to 64 MB: --shm-size) or use smaller queues" : "");
    }
    if (dir == "/dev/shm" && (st.st_mode & S_ISVTX) == 0)
        f.add("warn", "/dev/shm lacks the sticky bit: other users could delete your queues", "chmod 1777 /dev/shm");
}

// A MEMORY segment stamped with another boot id: every open refuses it
// (SHMQ_EREBOOTED, docs/durability.md); the observer handle does not check.
bool from_another_boot(const shmq::detail::Queue &q) {
    shmq_params p;
    q.params(&p);
    shmq::detail::BootId now;
    return p.durability != SHMQ_DURABILITY_DISK && shmq::detail::current_boot_id(&now) == SHMQ_OK &&
           std::memcmp(q.header()->boot_id, now.bytes, sizeof now.bytes) != 0;
}

void check_queue(Findings &f, const std::string &name) {
    QueuePtr q;
    int rc = open_observer(name, &q);
    if (rc != SHMQ_OK) {
        f.add("error", "queue " + name + ": " + shmq_strerror(rc),
              rc == SHMQ_EVERSION ? "use the matching shmq version, or `shmqctl delete " + name + "` and recreate it"
                                  : "`shmqctl delete " + name + "` and recreate it, if you own it");
        return;
    }
    if (from_another_boot(*q)) {
        f.add("error", "queue " + name + ": a memory queue from before a reboot: clients cannot open it (" +
                           shmq_strerror(SHMQ_EREBOOTED) + ")",
              "its messages were never durable: `shmqctl delete " + name +
                  "` and recreate it (shmqd does that itself for a queue in its config)");
        return;
    }
    std::vector<shmq_client_stats> clients;
    shmq_stats s = read_stats(*q, &clients);
    int dead = 0;
    for (auto &c : clients) dead += c.alive == 0;
    if (dead > 0)
        f.add("warn", "queue " + name + ": " + std::to_string(dead) + " dead client(s) still registered",
              "`shmqctl recover " + name + "` (or start shmqd, which does it continuously)");
    bool daemon = s.daemon_heartbeat_age_ns >= 0 && s.daemon_heartbeat_age_ns <= 5000000000LL;
    if (!daemon)
        f.add("warn", "queue " + name + ": no live shmqd (dead letters stay in memory, no spill)", "start shmqd");
    if (daemon && s.dead > 0) // shmqd writes them within a tick unless its store fails
        f.add("warn", "queue " + name + ": " + std::to_string(s.dead) + " dead letter(s) waiting in memory",
              "check shmqd's log and metrics (shmq_store_failing, shmq_store_errors_total): the disk may be full");
    if (dead == 0) f.add("ok", "queue " + name + ": valid, " + std::to_string(s.clients) + " client(s)");
}

// .shmq.<name>.tmp.<pid>.<n>: left by a creator that died before linking.
void check_leftovers(Findings &f, bool fix) {
    std::string dir = shmq::detail::segment_dir();
    DIR *d = opendir(dir.c_str());
    if (d == nullptr) return;
    while (dirent *e = readdir(d)) {
        std::string n = e->d_name;
        size_t tmp = n.find(".tmp.");
        if (n.rfind(".shmq.", 0) != 0 || tmp == std::string::npos) continue;
        int pid = atoi(n.c_str() + tmp + 5);
        if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) continue; // still being created
        std::string path = dir + "/" + n;
        if (fix && unlink(path.c_str()) == 0) f.add("ok", "removed " + path + " (half-made by a dead process)");
        else f.add("warn", path + " was half-made by a dead process", "`shmqctl doctor --fix` removes it");
    }
    closedir(d);
}

void check_logind(Findings &f) {
    std::ifstream in("/etc/systemd/logind.conf");
    if (!in) return;
    for (std::string line; std::getline(in, line);)
        if (line.rfind("RemoveIPC=no", 0) == 0) return;
    f.add("warn", "systemd-logind removes a user's shared memory at logout (RemoveIPC=yes is the default)",
          "run shmqd and its clients as a system user, or set RemoveIPC=no in /etc/systemd/logind.conf");
}

} // namespace

int cmd_doctor(const Output &out, bool fix) {
    Findings f;
    check_dir(f);
    for (const std::string &name : queue_names()) check_queue(f, name);
    check_leftovers(f, fix);
    check_logind(f);
    if (out.json) {
        print_json({{"status", f.status()}, {"findings", f.items}, {"errors", f.errors}, {"warnings", f.warnings}});
    } else {
        for (auto &i : f.items) {
            std::cout << std::string(i["level"]) << ": " << std::string(i["what"]);
            if (!std::string(i["todo"]).empty()) std::cout << "\n    -> " << std::string(i["todo"]);
            std::cout << "\n";
        }
    }
    return f.code();
}

} // namespace shmqctl
