// peer.hpp - what the bridge tests need around the bridge: the private broker
// (broker.sh), a plain AMQP client to declare, publish, get and count, and the
// bridge itself as a real process.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace bridge_test {

// The broker started by broker.sh for this ctest run (SHMQ_TEST_BROKER_DIR).
struct Broker {
    static std::string dir();
    static std::optional<int> port(std::string *why); // nullopt: unavailable, *why says why
    static std::optional<int> tls_port(std::string *why); // the AMQPS listener; certificates in tls_dir()
    static std::string tls_dir();
    static void restart();  // SIGKILL the node and start it again on its data
    // Whether the node's Mnesia files (where it recovers durable queues from)
    // name `queue` yet: a declaration not there cannot survive a SIGKILL.
    static bool on_disk(const std::string &queue);
    static void ctl(const std::string &args); // rabbitmqctl ARGS against the node
};

// The broker's port (the tests run only when it is available).
inline int broker_port() {
    std::string why;
    return *Broker::port(&why);
}
// A broker queue name of this test process, tagged.
std::string amqp_name(const char *tag);

// A plain rabbitmq-c client (not the bridge's code) for setting up and checking.
class Peer {
public:
    explicit Peer(int port);
    ~Peer();
    void declare(const std::string &queue);  // durable; purged if it existed
    uint32_t count(const std::string &queue); // ready messages (passive declare)
    void publish(const std::string &queue, const std::string &body, const amqp_table_t *headers = nullptr,
                 const std::string &message_id = "");
    struct Got {
        std::string body, message_id;
        std::map<std::string, int64_t> ints;
        std::map<std::string, std::string> texts;
        uint64_t timestamp = 0;
    };
    std::optional<Got> get(const std::string &queue); // basic.get with auto-ack

private:
    void check(const char *what);
    amqp_connection_state_t conn_;
};

// shmq-bridge as a child process, on a config written to a file.
class BridgeProcess {
public:
    explicit BridgeProcess(const std::string &config_toml);
    ~BridgeProcess();
    void start();
    void kill9();          // SIGKILL and reap
    int stop();            // SIGTERM; the exit code
    bool alive();          // still running (not exited, not reaped)
    std::string metrics(); // the status file's text ("" before the first write)
    std::string log();     // its stderr, when capture_log was set before start()
    std::string config_path, status_path, log_path;
    bool capture_log = false;

private:
    pid_t pid_ = -1;
};

// Poll `cond` every 10 ms until it holds or `seconds` pass.
template <class F> bool eventually(F cond, double seconds = 60);

std::string temp_dir();
// The value of the first sample of `name` in Prometheus text (0 if absent).
uint64_t metric(const std::string &text, const std::string &name);
// The sum of every sample of `name` (all bindings).
uint64_t metric_sum(const std::string &text, const std::string &name); // a fresh directory under /tmp for this test run

} // namespace bridge_test

#include <chrono>
#include <thread>
template <class F> bool bridge_test::eventually(F cond, double seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}
