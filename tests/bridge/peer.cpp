// peer.cpp - the bridge tests' broker, AMQP client and bridge process (peer.hpp).
#include "peer.hpp"

#include <amqp_tcp_socket.h>

#include <cerrno>
#include <fcntl.h>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace bridge_test {

namespace {
std::string slurp(const std::string &path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}
} // namespace

std::string Broker::dir() {
    const char *d = std::getenv("SHMQ_TEST_BROKER_DIR");
    return d != nullptr ? d : "";
}

std::optional<int> Broker::port(std::string *why) {
    if (dir().empty()) {
        *why = "SHMQ_TEST_BROKER_DIR is not set (run the tests through ctest, which starts the broker)";
        return std::nullopt;
    }
    std::string p = slurp(dir() + "/port");
    if (p.empty()) {
        *why = slurp(dir() + "/unavailable");
        if (why->empty()) *why = "no broker state in " + dir();
        return std::nullopt;
    }
    return std::stoi(p);
}

std::string Broker::tls_dir() { return dir() + "/tls"; }

std::optional<int> Broker::tls_port(std::string *why) {
    if (!port(why)) return std::nullopt;
    std::string p = slurp(dir() + "/tls_port");
    if (!p.empty()) return std::stoi(p);
    *why = "no TLS listener: " + slurp(dir() + "/tls_unavailable");
    return std::nullopt;
}

void Broker::restart() {
    std::string cmd = std::string(BROKER_SH) + " restart " + dir();
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("broker.sh restart failed");
}

bool Broker::on_disk(const std::string &queue) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const fs::directory_entry &node : fs::directory_iterator(dir() + "/mnesia", ec)) {
        if (!node.is_directory()) continue;
        for (const fs::directory_entry &f : fs::directory_iterator(node.path(), ec)) {
            std::string ext = f.path().extension().string();
            if ((ext == ".LOG" || ext == ".DCD" || ext == ".DCL") && slurp(f.path()).find(queue) != std::string::npos)
                return true;
        }
    }
    return false;
}

void Broker::ctl(const std::string &args) {
    std::string cmd = std::string(BROKER_SH) + " ctl " + dir() + " " + args;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("broker.sh ctl " + args + " failed");
}

Peer::Peer(int port) : conn_(amqp_new_connection()) {
    amqp_socket_t *s = amqp_tcp_socket_new(conn_);
    if (amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK) throw std::runtime_error("peer: cannot connect");
    amqp_rpc_reply_t r = amqp_login(conn_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("peer: cannot log in");
    amqp_channel_open(conn_, 1);
    check("channel.open");
}

Peer::~Peer() {
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
}

void Peer::check(const char *what) {
    if (amqp_get_rpc_reply(conn_).reply_type != AMQP_RESPONSE_NORMAL)
        throw std::runtime_error(std::string("peer: ") + what + " failed");
}

void Peer::declare(const std::string &queue) {
    amqp_queue_declare(conn_, 1, amqp_cstring_bytes(queue.c_str()), 0, 1, 0, 0, amqp_empty_table);
    check("queue.declare");
    amqp_queue_purge(conn_, 1, amqp_cstring_bytes(queue.c_str()));
    check("queue.purge");
}

uint32_t Peer::count(const std::string &queue) {
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(conn_, 1, amqp_cstring_bytes(queue.c_str()), 1, 0, 0, 0, amqp_empty_table);
    check("queue.declare (passive)");
    return ok->message_count;
}

void Peer::publish(const std::string &queue, const std::string &body, const amqp_table_t *headers,
                   const std::string &message_id) {
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = 2;
    if (!message_id.empty()) {
        p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p.message_id = amqp_cstring_bytes(message_id.c_str());
    }
    if (headers != nullptr) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers = *headers;
    }
    int st = amqp_basic_publish(conn_, 1, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()), 0, 0, &p,
                                amqp_bytes_t{body.size(), const_cast<char *>(body.data())});
    if (st != AMQP_STATUS_OK) throw std::runtime_error("peer: publish failed");
}

std::optional<Peer::Got> Peer::get(const std::string &queue) {
    amqp_rpc_reply_t r = amqp_basic_get(conn_, 1, amqp_cstring_bytes(queue.c_str()), 1);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error("peer: basic.get failed");
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
    amqp_message_t m;
    if (amqp_read_message(conn_, 1, &m, 0).reply_type != AMQP_RESPONSE_NORMAL)
        throw std::runtime_error("peer: reading a message failed");
    Got g;
    g.body.assign(static_cast<const char *>(m.body.bytes), m.body.len);
    const amqp_basic_properties_t &p = m.properties;
    if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        g.message_id.assign(static_cast<const char *>(p.message_id.bytes), p.message_id.len);
    if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) g.timestamp = p.timestamp;
    for (int i = 0; (p._flags & AMQP_BASIC_HEADERS_FLAG) && i < p.headers.num_entries; i++) {
        const amqp_table_entry_t &e = p.headers.entries[i];
        std::string key(static_cast<const char *>(e.key.bytes), e.key.len);
        if (e.value.kind == AMQP_FIELD_KIND_I64) g.ints[key] = e.value.value.i64;
        if (e.value.kind == AMQP_FIELD_KIND_UTF8)
            g.texts[key].assign(static_cast<const char *>(e.value.value.bytes.bytes), e.value.value.bytes.len);
    }
    amqp_destroy_message(&m);
    return g;
}

uint64_t metric(const std::string &text, const std::string &name) {
    size_t at = text.find("\n" + name + "{");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(text.find("} ", at) + 2));
}

uint64_t metric_sum(const std::string &text, const std::string &name) {
    uint64_t sum = 0;
    for (size_t at = text.find("\n" + name + "{"); at != std::string::npos; at = text.find("\n" + name + "{", at + 1))
        sum += std::stoull(text.substr(text.find("} ", at) + 2));
    return sum;
}

std::string temp_dir() {
    char tmpl[] = "/tmp/shmq-bridge-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

BridgeProcess::BridgeProcess(const std::string &config_toml) {
    std::string dir = temp_dir();
    config_path = dir + "/bridge.toml";
    status_path = dir + "/metrics.prom";
    log_path = dir + "/bridge.log";
    std::ofstream(config_path) << config_toml << "\n[status]\nfile = \"" << status_path << "\"\ninterval_ms = 100\n";
}

BridgeProcess::~BridgeProcess() {
    if (pid_ > 0) kill9();
    std::remove(config_path.c_str());
    std::remove(status_path.c_str());
    std::remove((status_path + ".tmp").c_str());
    std::remove(log_path.c_str());
    rmdir(config_path.substr(0, config_path.rfind('/')).c_str());
}

// posix_spawn, not fork: this process has threads, and a forked child of a
// ThreadSanitizer build can hang before it reaches exec.
void BridgeProcess::start() {
    std::fflush(nullptr);
    const char *level = std::getenv("SHMQ_BRIDGE_TEST_LOG_LEVEL"); // e.g. info, to debug a test
    std::string bin = SHMQ_BRIDGE_BIN, flag = "--config", lflag = "--log-level", lvl = level ? level : "warn";
    char *argv[] = {bin.data(), flag.data(), config_path.data(), lflag.data(), lvl.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (capture_log) posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pid_ = -1;
        throw std::runtime_error(std::string("posix_spawn shmq-bridge: ") + std::strerror(rc));
    }
}

void BridgeProcess::kill9() {
    ::kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
}

int BridgeProcess::stop() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

bool BridgeProcess::alive() {
    int st;
    return pid_ > 0 && waitpid(pid_, &st, WNOHANG) == 0;
}

std::string BridgeProcess::metrics() { return slurp(status_path); }
std::string BridgeProcess::log() { return slurp(log_path); }

std::string amqp_name(const char *tag) { return std::string("bq.") + tag + "." + std::to_string(getpid()); }

} // namespace bridge_test
