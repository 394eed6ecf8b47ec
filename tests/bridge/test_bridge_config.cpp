// test_bridge_config.cpp - shmq-bridge's configuration and envelope, without a
// broker: every bad input is refused with a message naming the key, --check
// says so with exit code 2, and the envelope round-trips an identity.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "config.hpp"
#include "identity.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

std::string write_temp(const std::string &text) {
    char path[] = "/tmp/shmq-bridge-config-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path) << text;
    return path;
}

// load_config's error for `text` ("" if it loaded).
std::string error_of(const std::string &text) {
    std::string path = write_temp(text), err;
    bridge::load_config(path, &err);
    std::remove(path.c_str());
    return err;
}

const char kGood[] = R"(version = 1
[broker]
host = "127.0.0.1"
port = 5672
[[out]]
local_queue = "orders"
routing_key = "orders"
[[in]]
amqp_queue = "orders.done"
local_queue = "done"
envelope = true
headers = false
)";

int check_exit(const std::string &text, std::string *output) {
    std::string path = write_temp(text), out = path + ".out";
    int st = std::system((std::string(SHMQ_BRIDGE_BIN) + " --config " + path + " --check > " + out + " 2>&1").c_str());
    std::ifstream f(out);
    std::stringstream s;
    s << f.rdbuf();
    *output = s.str();
    std::remove(path.c_str());
    std::remove(out.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

} // namespace

TEST_CASE("a good config loads with its defaults") {
    std::string path = write_temp(kGood), err;
    std::optional<bridge::Config> c = bridge::load_config(path, &err);
    std::remove(path.c_str());
    REQUIRE(c);
    REQUIRE(c->bindings.size() == 2);
    CHECK(c->bindings[0].name == "out:orders");
    CHECK(c->bindings[0].mandatory);
    CHECK(c->bindings[1].name == "in:orders.done");
    CHECK(c->bindings[1].envelope);
    CHECK_FALSE(c->bindings[1].headers);
    CHECK(c->bindings[0].headers); // the default
    CHECK(c->broker.password == "guest");
    CHECK(c->broker.write_timeout_ms == 30000);
}

TEST_CASE("bad configs are refused with the key and line") {
    CHECK(error_of("version = 2\n[[out]]\nlocal_queue = \"a\"\n").find("version") != std::string::npos);
    CHECK(error_of("version = 1\n").find("nothing to do") != std::string::npos);
    CHECK(error_of("version = 1\n[[out]]\nlocal_queue = \"a\"\nroutingkey = \"x\"\n") ==
          "out[0].routingkey (line 4): unknown key");
    CHECK(error_of("version = 1\n[[in]]\nlocal_queue = \"a\"\n") == "in[0].amqp_queue: required (a non-empty string)");
    CHECK(error_of("version = 1\n[broker]\nport = 70000\n[[out]]\nlocal_queue = \"a\"\n")
              .find("broker.port (line 3): expected an integer in 1..65535") == 0);
    CHECK(error_of("version = 1\n[broker]\nwrite_timeout_ms = 0\n[[out]]\nlocal_queue = \"a\"\n")
              .find("broker.write_timeout_ms (line 3): expected an integer in 100..3600000") == 0);
    CHECK(error_of("version = 1\n[broker]\nuser = \"app\"\n[[out]]\nlocal_queue = \"a\"\n")
              .find("password_file: required") != std::string::npos);
    CHECK(error_of("version = 1\n[broker]\nuser = \"app\"\npassword_file = \"/nonexistent/pw\"\n[[out]]\nlocal_queue = \"a\"\n")
              .find("cannot read /nonexistent/pw") != std::string::npos);
    CHECK(error_of("version = 1\n[[out]]\nlocal_queue = \"a\"\n[[out]]\nlocal_queue = \"a\"\n")
              .find("used twice") != std::string::npos);
    CHECK(error_of("version = 1\n[[out]\n").find("line 2") != std::string::npos); // TOML syntax
    CHECK(error_of("version = 1\n[[in]]\namqp_queue = \"x\"\nlocal_queue = \"a\"\ngroup = \"g\"\n") ==
          "in[0].group (line 5): unknown key"); // a group is a source: out only
}

TEST_CASE("out: a group names the topic's consumer group it leases from") {
    std::string path = write_temp("version = 1\n[[out]]\nlocal_queue = \"orders\"\ngroup = \"inventory\"\n"), err;
    std::optional<bridge::Config> c = bridge::load_config(path, &err);
    std::remove(path.c_str());
    REQUIRE(c);
    CHECK(c->bindings[0].group == "inventory");
    CHECK(c->bindings[0].name == "out:orders/inventory");
}

TEST_CASE("the password comes from a file, first line only") {
    std::string pw = write_temp("s3cret\nignored\n");
    std::string path = write_temp("version = 1\n[broker]\nuser = \"app\"\npassword_file = \"" + pw +
                                  "\"\n[[out]]\nlocal_queue = \"a\"\n"),
                err;
    std::optional<bridge::Config> c = bridge::load_config(path, &err);
    std::remove(path.c_str());
    std::remove(pw.c_str());
    REQUIRE(c);
    CHECK(c->broker.password == "s3cret");
}

TEST_CASE("--check: exit 0 on a good config, 2 with the reason on a bad one") {
    std::string out;
    CHECK(check_exit(kGood, &out) == 0);
    CHECK(out.find("is valid (2 binding(s))") != std::string::npos);
    CHECK(check_exit("version = 1\n[[out]]\nlocal_queue = \"bad/name\"\n", &out) == 2);
    CHECK(out.find("local_queue \"bad/name\"") != std::string::npos);
    CHECK(check_exit("version = 1\n[[out]]\nlocal_queue = \"a\"\ngroup = \"bad group\"\n", &out) == 2);
    CHECK(out.find("group \"bad group\"") != std::string::npos);
    CHECK(check_exit("version = 1\nlog_level = \"loud\"\n[[out]]\nlocal_queue = \"a\"\n", &out) == 2);
    CHECK(out.find("log_level") != std::string::npos);
}

TEST_CASE("TLS: the files named must be readable, and --check says which is not") {
    std::string ca = write_temp("-----BEGIN CERTIFICATE-----\n"), out;
    auto tls = [&](const std::string &lines) {
        return "version = 1\n[broker]\nport = 5671\n[broker.tls]\n" + lines + "[[out]]\nlocal_queue = \"a\"\n";
    };
    CHECK(error_of(tls("enabled = true\nca_file = \"" + ca + "\"\n")) == "");
    CHECK(error_of(tls("enabled = true\n")) ==
          "broker.tls.ca_file: required while verify_peer is true (the CA that signed the broker's certificate)");
    CHECK(error_of(tls("enabled = true\nverify_peer = false\n")) == ""); // encrypted, unauthenticated: allowed
    CHECK(error_of(tls("enabled = false\nca_file = \"/nonexistent/ca.pem\"\n")) == ""); // TLS off: not read
    CHECK(check_exit(tls("enabled = true\nca_file = \"/nonexistent/ca.pem\"\n"), &out) == 2);
    CHECK(out.find("broker.tls.ca_file: cannot read /nonexistent/ca.pem: No such file or directory") != std::string::npos);
    CHECK(check_exit(tls("enabled = true\nca_file = \"" + ca + "\"\ncert_file = \"/tmp\"\nkey_file = \"" + ca + "\"\n"),
                     &out) == 2);
    CHECK(out.find("broker.tls.cert_file: cannot read /tmp: Is a directory") != std::string::npos);
    std::string empty = write_temp("");
    CHECK(check_exit(tls("enabled = true\nca_file = \"" + ca + "\"\ncert_file = \"" + ca + "\"\nkey_file = \"" + empty + "\"\n"),
                     &out) == 2);
    CHECK(out.find("broker.tls.key_file: cannot read " + empty + ": empty file") != std::string::npos);
    CHECK(error_of(tls("enabled = true\nca_file = \"" + ca + "\"\ncert_file = \"" + ca + "\"\n")) ==
          "broker.tls: cert_file and key_file go together");
    std::remove(ca.c_str());
    std::remove(empty.c_str());
}

TEST_CASE("the envelope carries an identity and the payload, and plain payloads are left alone") {
    bridge::Identity id{"orders", 42, 3, 1700000000123456789};
    std::string wrapped = bridge::wrap(id, "hello");
    CHECK(wrapped.size() == bridge::envelope_overhead(id) + 5);
    std::string_view payload;
    std::optional<bridge::Identity> back = bridge::unwrap(wrapped, &payload);
    REQUIRE(back);
    CHECK(back->queue == "orders");
    CHECK(back->id == 42);
    CHECK(back->attempt == 3);
    CHECK(back->enqueued_ns == 1700000000123456789);
    CHECK(payload == "hello");
    CHECK_FALSE(bridge::unwrap("hello", &payload));
    CHECK_FALSE(bridge::unwrap(wrapped.substr(0, wrapped.size() - 5 - 3), &payload)); // cut inside the queue name
}
