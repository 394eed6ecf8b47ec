// harness.cpp - the daemon test harness (harness.hpp).
#include "harness.hpp"
#include "store/fsutil.hpp"

#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace dtest {

bool eventually(const std::function<bool()> &cond, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(1ms); // a polling interval, not synchronisation
    }
}

static std::string make_temp(const std::string &base) {
    std::string tmpl = base + "/shmqd-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + base);
    return tmpl;
}

TempDir::TempDir(bool segments) {
    const char *base = getenv("TMPDIR");
    path = make_temp(base != nullptr && *base != '\0' ? base : "/tmp");
    if (!segments) return;
    shm = make_temp("/dev/shm");
    const char *old = getenv("SHMQ_DIR");
    old_shmq_dir_ = old != nullptr ? old : "";
    setenv("SHMQ_DIR", shm.c_str(), 1);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (shm.empty()) return;
    if (old_shmq_dir_.empty()) unsetenv("SHMQ_DIR");
    else setenv("SHMQ_DIR", old_shmq_dir_.c_str(), 1);
    std::filesystem::remove_all(shm, ec);
}

void TempDir::write(const std::string &name, const std::string &text) const {
    std::ofstream out(file(name), std::ios::trunc);
    out << text;
}

std::string TempDir::read(const std::string &name) const {
    std::ifstream in(file(name));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string daemon_section(const TempDir &dir) {
    return "version = 1\n[daemon]\nspill_dir = \"" + dir.file("spill") + "\"\ndead_letter_dir = \"" +
           dir.file("dlq") + "\"\nmetrics = \"127.0.0.1:0\"\ntick_ms = 5\nlog_level = \"debug\"\n";
}

std::string queue_section(const std::string &name, const std::string &extra) {
    return "[queues." + name + "]\nslot_count = 32\nslot_size = 64\nmax_clients = 16\n" + extra + "\n";
}

namespace {

std::string binary_path(Binary bin) { return bin == Binary::Testing ? SHMQD_TESTING_BIN : SHMQD_BIN; }

pid_t spawn(const std::vector<std::string> &args, const std::vector<std::string> &env, const std::string &out,
            Binary bin) {
    std::vector<std::string> argv_s{binary_path(bin)};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char *> argv, envp;
    for (auto &a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s(env);
    for (char **e = environ; *e != nullptr; ++e) env_s.emplace_back(*e); // ours win: first match counts
    for (auto &e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + strerror(rc));
    return pid;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return INT_MIN;
}

} // namespace

Shmqd::Shmqd(const TempDir &dir, Binary bin, std::vector<std::string> env, std::vector<std::string> args) {
    static int n = 0;
    log_path_ = dir.file("shmqd." + std::to_string(n++) + ".log");
    std::vector<std::string> all{"--config", dir.file("shmqd.toml"), "--foreground"};
    all.insert(all.end(), args.begin(), args.end());
    pid_ = spawn(all, env, log_path_, bin);
}

Shmqd::~Shmqd() {
    if (running()) {
        kill(pid_, SIGKILL);
        wait_exit(10s);
    }
}

bool Shmqd::running() {
    if (exited_) return false;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        exited_ = true;
        status_ = st;
    }
    return !exited_;
}

bool Shmqd::wait_ready(std::chrono::milliseconds timeout) {
    bool ok = eventually([&] { return log_has("] info: ready:") || !running(); }, timeout);
    return ok && running() && log_has("] info: ready:");
}

int Shmqd::wait_exit(std::chrono::milliseconds timeout) {
    if (!eventually([&] { return !running(); }, timeout)) return INT_MIN;
    return decode_status(status_);
}

int Shmqd::stop() {
    signal(SIGTERM);
    return wait_exit();
}

void Shmqd::signal(int sig) {
    if (running()) kill(pid_, sig);
}

std::string Shmqd::log() const { return read_file(log_path_); }

int Shmqd::metrics_port() const {
    std::string l = log();
    const std::string key = "metrics on http://127.0.0.1:";
    size_t at = l.find(key);
    return at == std::string::npos ? -1 : std::atoi(l.c_str() + at + key.size());
}

int run_shmqd(const std::vector<std::string> &args, std::string *output, Binary bin) {
    TempDir tmp(false); // the caller's segment directory stays
    std::string out = tmp.file("out.txt");
    pid_t pid = spawn(args, {}, out, bin);
    int st = 0;
    bool done = eventually([&] { return waitpid(pid, &st, WNOHANG) == pid; }, 20s);
    if (!done) { // it should have exited by itself: do not hang the suite
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    *output = read_file(out);
    return done ? decode_status(st) : INT_MIN;
}

namespace {

int connect_local(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

} // namespace

int http_get(int port, const std::string &path, std::string *body) {
    int fd = connect_local(port);
    if (fd < 0) return -1;
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n", resp;
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
        close(fd);
        return -1;
    }
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        resp.append(buf, size_t(n));
    }
    close(fd);
    size_t sp = resp.find(' '), end = resp.find("\r\n\r\n");
    if (sp == std::string::npos || end == std::string::npos) return -1;
    *body = resp.substr(end + 4);
    return std::atoi(resp.c_str() + sp + 1);
}

double metric(const std::string &text, const std::string &series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
            return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
    return std::nan("");
}

shmq_queue *open_queue(const std::string &name) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    o.spin_ns = 0;
    shmq_queue *q = nullptr;
    return shmq_open(name.c_str(), &o, &q) == SHMQ_OK ? q : nullptr;
}

shmq_stats stats_of(shmq_queue *q) {
    shmq_stats s{};
    s.struct_size = sizeof s;
    shmq_stats_get(q, &s);
    return s;
}

std::vector<shmq::store::DeadLetterInfo> dead_letters(const TempDir &dir, const std::string &queue) {
    namespace store = shmq::store;
    std::vector<store::DeadLetterInfo> out;
    store::Fd d;
    std::string why;
    if (store::open_dir(dir.file("dlq"), false, &d, &why) != 0) return out;
    store::DeadLetters dlq;
    store::StoreOptions o;
    o.read_only = true;
    if (dlq.open(d.get(), queue, o, nullptr) != 0) return out;
    dlq.list([&](const store::DeadLetterInfo &i) {
        out.push_back(i);
        return true;
    });
    return out;
}

} // namespace dtest
