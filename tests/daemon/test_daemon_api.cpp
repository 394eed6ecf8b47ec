// shmqd's HTTP/JSON API (/v1) over its Unix socket and loopback TCP, against
// a real shmqd: send, lease with receipts, ack/nack/reject/extend, lease
// expiry and redelivery, long-poll timing, a full queue, every bad input, the
// bearer token; and daemon/shmqd/openapi.json checked against the answers
// (every path answers; every status a test sees is listed for its path).
#include "api.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <set>
#include <sys/stat.h>
#include <thread>

using namespace dtest;
using nlohmann::json;

namespace {

const json &spec() {
    static const json s = json::parse(std::ifstream(SHMQD_OPENAPI));
    return s;
}

// A request to `path`, whose OpenAPI template is `tmpl`: the answer, with a
// check that the file lists its status for that path and method.
HttpReply call(const Endpoint &e, const std::string &method, const std::string &tmpl, const std::string &path,
               const std::string &body = "", const std::map<std::string, std::string> &headers = {}) {
    HttpReply r = http_request(e, method, path, body, headers);
    std::string m = method == "GET" ? "get" : "post";
    INFO(method << " " << path << " -> " << r.status << " " << r.body);
    REQUIRE(spec()["paths"].contains(tmpl));
    REQUIRE(spec()["paths"][tmpl].contains(m));
    CHECK(spec()["paths"][tmpl][m]["responses"].contains(std::to_string(r.status)));
    return r;
}

std::string unbase64(const std::string &in) {
    static const std::string tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        size_t v = tbl.find(c);
        if (v == std::string::npos) break; // '='
        acc = acc << 6 | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char(acc >> bits & 0xFF);
        }
    }
    return out;
}

struct Api {
    TempDir dir;
    std::unique_ptr<Shmqd> d;
    Endpoint e;
    // `more`: further tables (a topic) after the queue's.
    explicit Api(const std::string &daemon_extra = "", const std::string &queue_extra = "", const std::string &more = "") {
        std::string cfg = daemon_section(dir);
        cfg.insert(cfg.find("[daemon]\n") + 9, daemon_extra);
        dir.write("shmqd.toml", cfg + queue_section("q", queue_extra) + more);
        d = std::make_unique<Shmqd>(dir);
        REQUIRE(d->wait_ready());
        e.unix_path = dir.file("spill") + "/shmqd.sock";
    }
    HttpReply send(const std::string &body) { return call(e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages", body); }
    HttpReply lease(const std::string &query) {
        return call(e, "POST", "/v1/queues/{queue}/leases", "/v1/queues/q/leases" + query);
    }
    HttpReply settle(const std::string &receipt, const std::string &action, const std::string &query = "") {
        return call(e, "POST", "/v1/receipts/{receipt}/{action}", "/v1/receipts/" + receipt + "/" + action + query);
    }
    // The one message a lease must give.
    json lease_one(const std::string &query) {
        HttpReply r = lease(query);
        REQUIRE(r.status == 200);
        json j = json::parse(r.body);
        REQUIRE(j["messages"].size() == 1);
        return j["messages"][0];
    }
    json stats() {
        HttpReply r = call(e, "GET", "/v1/queues/{queue}", "/v1/queues/q");
        REQUIRE(r.status == 200);
        return json::parse(r.body)["stats"];
    }
};

// True while a thread of shmqd (pid) sleeps in a receive on the queue.
bool api_sleeping(shmq_queue *q, pid_t pid) {
    std::vector<shmq_client_stats> clients(64);
    shmq_stats s{};
    s.struct_size = sizeof s;
    s.client = clients.data();
    s.client_cap = clients.size();
    if (shmq_stats_get(q, &s) != SHMQ_OK) return false;
    for (size_t i = 0; i < std::min<size_t>(s.clients, clients.size()); ++i)
        if (clients[i].pid == pid && clients[i].sleeping > 0) return true;
    return false;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

TEST_CASE("api: send, lease, ack over the Unix socket; the queue's figures match the C API's") {
    Api a;
    HttpReply s = a.send(std::string("hello\0world", 11));
    CHECK(s.status == 201);
    CHECK(a.stats()["ready"] == 1);
    json m = a.lease_one("?max=5");
    CHECK(unbase64(m["data"]) == std::string("hello\0world", 11));
    CHECK(m["id"] == json::parse(s.body)["id"]); // the id the send answered is the one delivered
    CHECK(m["attempt"] == 1);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    CHECK(stats_of(q).leased == 1);
    CHECK(a.stats()["leased"] == 1);
    CHECK(a.settle(m["receipt"], "ack").status == 200);
    CHECK(stats_of(q).acked == 1);
    HttpReply again = a.settle(m["receipt"], "ack");
    CHECK(again.status == 409); // spent: the lease it names is over
    CHECK(json::parse(again.body)["error"] == "SHMQ_ELEASELOST");
    shmq_close(q);
}

// Topic "t" with the configured groups a and b (c is bound by hand in a test).
const std::string kTopic = "[topics.t]\nslot_count = 16\nslot_size = 64\nmax_clients = 16\ngroups = [\"a\", \"b\"]\n";

HttpReply group_lease(const Endpoint &e, const std::string &group, const std::string &query = "") {
    return call(e, "POST", "/v1/queues/{topic}/{group}/leases", "/v1/queues/t/" + group + "/leases" + query);
}

TEST_CASE("api: a topic's groups are leased from as topic/group; receipts ack, nack, extend and reject in that group") {
    Api a("", "", kTopic);
    HttpReply pub = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/t/messages", "news");
    REQUIRE(pub.status == 201);
    HttpReply r = group_lease(a.e, "a", "?wait=5000");
    REQUIRE(r.status == 200);
    json ma = json::parse(r.body)["messages"].at(0);
    CHECK(unbase64(ma["data"]) == "news");
    CHECK(ma["id"] == json::parse(pub.body)["id"]);
    CHECK(ma["receipt"].get<std::string>().rfind("t~a~", 0) == 0);
    CHECK(a.settle(ma["receipt"], "nack", "?delay=0").status == 200); // back into a only
    r = group_lease(a.e, "a", "?wait=5000");
    REQUIRE(r.status == 200);
    ma = json::parse(r.body)["messages"].at(0);
    CHECK(ma["attempt"] == 2);
    HttpReply ext = a.settle(ma["receipt"], "extend", "?lease=60000");
    REQUIRE(ext.status == 200);
    CHECK(a.settle(json::parse(ext.body)["receipt"], "ack").status == 200);
    CHECK(json::parse(group_lease(a.e, "a").body)["messages"].empty()); // done in a
    json mb = json::parse(group_lease(a.e, "b", "?wait=5000").body)["messages"].at(0); // b has its own copy
    CHECK(mb["attempt"] == 1);
    HttpReply wrong = a.settle("t~a~" + mb["receipt"].get<std::string>().substr(4), "ack"); // b's words, a's handle
    CHECK((wrong.status == 400 || wrong.status == 409)); // refused, and b's lease untouched:
    CHECK(a.settle(mb["receipt"], "reject").status == 200);
    REQUIRE(eventually([&] { return dead_letters(a.dir, "t.b").size() == 1; })); // into b's store
    CHECK(dead_letters(a.dir, "t.a").empty());
}

TEST_CASE("api: a group bound by hand is leased from too; a topic itself, an unbound group, a send to a group are refused clearly") {
    Api a("", "", kTopic);
    shmq_queue *t = open_queue("t");
    REQUIRE(t != nullptr);
    REQUIRE(shmq_group_add(t, "c") == SHMQ_OK);
    REQUIRE(shmq_send(t, "x", 1, 0) == SHMQ_OK);
    CHECK(json::parse(group_lease(a.e, "c", "?wait=5000").body)["messages"].size() == 1);
    HttpReply r = call(a.e, "POST", "/v1/queues/{queue}/leases", "/v1/queues/t/leases");
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["message"].get<std::string>().find("/v1/queues/t/GROUP/leases") != std::string::npos);
    r = group_lease(a.e, "nope");
    CHECK(r.status == 404);
    CHECK(json::parse(r.body)["error"] == "SHMQ_ENOTFOUND");
    r = group_lease(a.e, "bad!name");
    CHECK(r.status == 400);
    r = call(a.e, "POST", "/v1/queues/{topic}/{group}/leases", "/v1/queues/q/a/leases"); // q is a queue
    CHECK(r.status == 400);
    r = http_request(a.e, "POST", "/v1/queues/t/a/messages", "x");
    CHECK(r.status == 404);
    CHECK(json::parse(r.body)["message"].get<std::string>().find("POST /v1/queues/t/messages") != std::string::npos);
    for (const char *bad : {"t~a~zz", "t~~00000000000000000000000000000000", "t~a~b~00000000000000000000000000000000"}) {
        r = a.settle(bad, "ack");
        CHECK(r.status == 400);
        CHECK(json::parse(r.body)["message"].get<std::string>().find("malformed receipt") != std::string::npos);
    }
    CHECK(shmq_group_remove(t, "c", 1) == SHMQ_OK);
    CHECK(group_lease(a.e, "c").status == 404); // its handle is closed, and no group c is bound now
    shmq_close(t);
}

TEST_CASE("api: an Idempotency-Key sent twice within the queue's window stores one message") {
    Api a("", "dedup_window_ms = 60000");
    const std::string path = "/v1/queues/q/messages", tmpl = "/v1/queues/{queue}/messages";
    HttpReply r1 = call(a.e, "POST", tmpl, path, "first", {{"Idempotency-Key", "order-9"}});
    REQUIRE(r1.status == 201);
    HttpReply r2 = call(a.e, "POST", tmpl, path, "again", {{"Idempotency-Key", "order-9"}});
    REQUIRE(r2.status == 200);
    CHECK(json::parse(r2.body)["duplicate"] == true);
    CHECK(json::parse(r2.body)["id"] == json::parse(r1.body)["id"]);
    CHECK(call(a.e, "POST", tmpl, path, "x", {{"Idempotency-Key", std::string(129, 'k')}}).status == 400);
    json m = a.lease_one("");
    CHECK(unbase64(m["data"]) == "first");
    CHECK(json::parse(a.lease("").body)["messages"].empty());
}

TEST_CASE("api: an Idempotency-Key on a topic with a window: one message, in every group") {
    TempDir dir;
    dir.write("shmqd.toml", daemon_section(dir) + "[topics.t]\nslot_count = 8\nslot_size = 64\nmax_clients = 16\n"
                                                  "groups = [\"a\", \"b\"]\ndedup_window_ms = 60000\n");
    Shmqd d(dir);
    REQUIRE(d.wait_ready());
    Endpoint e;
    e.unix_path = dir.file("spill") + "/shmqd.sock";
    const std::string path = "/v1/queues/t/messages", tmpl = "/v1/queues/{queue}/messages";
    HttpReply r1 = call(e, "POST", tmpl, path, "first", {{"Idempotency-Key", "order-9"}});
    REQUIRE(r1.status == 201);
    HttpReply r2 = call(e, "POST", tmpl, path, "again", {{"Idempotency-Key", "order-9"}});
    REQUIRE(r2.status == 200);
    CHECK(json::parse(r2.body)["duplicate"] == true);
    CHECK(json::parse(r2.body)["id"] == json::parse(r1.body)["id"]);
    for (const char *group : {"a", "b"}) {
        CAPTURE(group);
        shmq_queue *g = nullptr;
        REQUIRE(shmq_open_group("t", group, nullptr, &g) == SHMQ_OK);
        shmq_msg m;
        REQUIRE(shmq_recv(g, &m, 0) == SHMQ_OK);
        CHECK(std::string(static_cast<const char *>(m.data), m.len) == "first");
        CHECK(m.id == json::parse(r1.body)["id"].get<uint64_t>());
        CHECK(shmq_ack(g, &m) == SHMQ_OK);
        CHECK(shmq_recv(g, &m, 0) == SHMQ_EEMPTY); // the duplicate reached no group
        shmq_close(g);
    }
}

TEST_CASE("api: a message sent with the C library is leased over HTTP, and one sent over HTTP is received by it") {
    Api a;
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    shmq_header h[1] = {{"trace", "t1"}}; // 3 + 5 + 2 bytes beside the payload in the 64-byte slot
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.headers = h;
    o.header_count = 1;
    REQUIRE(shmq_send_ex(q, "from C", 6, &o, nullptr, 0) == SHMQ_OK);
    json got = a.lease_one("");
    CHECK(unbase64(got["data"]) == "from C");
    CHECK(got["headers"] == json{{"trace", "t1"}}); // as shmqctl recv --json shows them
    CHECK(a.send("bare").status == 201);
    CHECK(a.lease_one("")["headers"] == json::object());
    CHECK(a.send("from HTTP").status == 201);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * 1000000000LL) == SHMQ_OK);
    CHECK(std::string(static_cast<const char *>(m.data), m.len) == "from HTTP");
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    shmq_close(q);
}

TEST_CASE("api: Shmq-Headers on a send travel with the message to an HTTP lease and to a C consumer") {
    Api a;
    const std::string path = "/v1/queues/q/messages", tmpl = "/v1/queues/{queue}/messages";
    json h = {{"t", "1"}, {"u", "caf\xc3\xa9"}}; // multi-byte UTF-8, sent escaped (ASCII JSON)
    REQUIRE(call(a.e, "POST", tmpl, path, "one", {{"Shmq-Headers", h.dump(-1, ' ', true)}}).status == 201);
    json got = a.lease_one("");
    CHECK(unbase64(got["data"]) == "one");
    CHECK(got["headers"] == h);
    CHECK(a.settle(got["receipt"], "nack", "?delay=0").status == 200);
    CHECK(a.lease_one("")["headers"] == h); // kept through a nack
    REQUIRE(call(a.e, "POST", tmpl, path, "two", {{"Shmq-Headers", R"({"trace":"t2"})"}}).status == 201);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    shmq_msg m;
    REQUIRE(shmq_recv(q, &m, 5 * 1000000000LL) == SHMQ_OK);
    const char *v = nullptr;
    size_t n = 0;
    REQUIRE(shmq_msg_header(q, &m, "trace", &v, &n) == SHMQ_OK);
    CHECK(std::string(v, n) == "t2");
    CHECK(shmq_ack(q, &m) == SHMQ_OK);
    shmq_close(q);
}

TEST_CASE("api: bad Shmq-Headers are 400 or 413 with a reason, and nothing is sent") {
    Api a;
    const std::string path = "/v1/queues/q/messages", tmpl = "/v1/queues/{queue}/messages";
    struct Bad {
        std::string headers;
        int status;
        const char *code;
    };
    const Bad bad[] = {{"not json", 400, "SHMQ_EINVAL"},
                       {R"(["a","b"])", 400, "SHMQ_EINVAL"},
                       {R"({"n":1})", 400, "SHMQ_EINVAL"},         // not a string
                       {R"({"k":"a\u0000b"})", 400, "SHMQ_EINVAL"}, // a NUL would cut it
                       {R"({"a=b":"v"})", 400, "SHMQ_EINVAL"},     // '=' in a key (the core's rule)
                       {R"({"k y":"v"})", 400, "SHMQ_EINVAL"},     // a space in a key
                       {R"({"":"v"})", 400, "SHMQ_EINVAL"},        // an empty key
                       {json{{"k", std::string(80, 'x')}}.dump(), 413, "SHMQ_ETOOBIG"}}; // past the 64-byte slot
    for (const Bad &b : bad) {
        HttpReply r = call(a.e, "POST", tmpl, path, "x", {{"Shmq-Headers", b.headers}});
        INFO(b.headers);
        CHECK(r.status == b.status);
        CHECK(json::parse(r.body)["error"] == b.code);
        CHECK(json::parse(r.body)["message"].get<std::string>().find("Shmq-Headers") != std::string::npos);
    }
    CHECK(a.stats()["enqueued"] == 0);
}

TEST_CASE("api: a lease taken over HTTP and not acked expires and is redelivered; the old receipt is refused") {
    Api a;
    REQUIRE(a.send("x").status == 201);
    json first = a.lease_one("?lease=200");
    CHECK(first["lease_ms"] == 200);
    json second = a.lease_one("?wait=10000"); // back once shmqd's recovery takes the lease back
    CHECK(second["id"] == first["id"]);
    CHECK(second["attempt"] == 2);
    HttpReply old = a.settle(first["receipt"], "ack");
    CHECK(old.status == 409);
    CHECK(json::parse(old.body)["error"] == "SHMQ_ELEASELOST");
    CHECK(a.settle(second["receipt"], "ack").status == 200);
}

TEST_CASE("api: nack redelivers, reject dead-letters, extend gives a new receipt") {
    Api a;
    REQUIRE(a.send("x").status == 201);
    json m = a.lease_one("");
    CHECK(a.settle(m["receipt"], "nack", "?delay=0").status == 200);
    m = a.lease_one("?wait=5000");
    CHECK(m["attempt"] == 2);
    HttpReply ext = a.settle(m["receipt"], "extend", "?lease=60000");
    REQUIRE(ext.status == 200);
    std::string renewed = json::parse(ext.body)["receipt"];
    CHECK(renewed != m["receipt"]);
    CHECK(a.settle(renewed, "reject").status == 200);
    CHECK(a.stats()["rejected"] == 1);
}

TEST_CASE("api: a long-poll waits for its deadline when nothing comes, and ends at once when a message does") {
    Api a;
    auto t0 = std::chrono::steady_clock::now();
    HttpReply r = a.lease("?wait=1000");
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["messages"].empty());
    CHECK(seconds_since(t0) >= 0.9);
    CHECK(seconds_since(t0) < 8.0);

    HttpReply got;
    std::thread poller([&] { got = http_request(a.e, "POST", "/v1/queues/q/leases?wait=20000", ""); });
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    REQUIRE(eventually([&] { return api_sleeping(q, a.d->pid()); })); // the long-poll waits in shmqd
    t0 = std::chrono::steady_clock::now();
    REQUIRE(shmq_send(q, "now", 3, 0) == SHMQ_OK);
    poller.join();
    CHECK(seconds_since(t0) < 10.0); // well before the 20 s wait
    REQUIRE(got.status == 200);
    CHECK(json::parse(got.body)["messages"].size() == 1);
    shmq_close(q);
}

TEST_CASE("api: ?delay holds a message back for its time; out of range is a 400") {
    Api a;
    auto t0 = std::chrono::steady_clock::now();
    HttpReply s = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages?delay=300", "later");
    REQUIRE(s.status == 201);
    CHECK(json::parse(a.lease("").body)["messages"].empty()); // not before its time
    json m = a.lease_one("?wait=20000");
    CHECK(seconds_since(t0) >= 0.3);
    CHECK(m["id"] == json::parse(s.body)["id"]);
    HttpReply bad = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages?delay=1209600001", "x");
    CHECK(bad.status == 400);
}

TEST_CASE("api: ?ttl dead-letters a message not leased in time; out of range is a 400") {
    Api a;
    HttpReply s = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages?ttl=1", "brief");
    REQUIRE(s.status == 201);
    REQUIRE(eventually([&] { return a.stats()["expired"] == 1; }));
    CHECK(json::parse(a.lease("").body)["messages"].empty()); // never delivered
    HttpReply kept = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages?ttl=60000", "kept");
    REQUIRE(kept.status == 201);
    CHECK(a.lease_one("?wait=20000")["id"] == json::parse(kept.body)["id"]);
    HttpReply bad = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages?ttl=604800001", "x");
    CHECK(bad.status == 400);
    CHECK(a.stats()["expired"] == 1);
}

TEST_CASE("api: a full queue answers 429 with Retry-After, never a silent drop") {
    Api a("", "overflow = \"fail\"\n");
    for (int i = 0; i < 32; ++i) REQUIRE(a.send("m").status == 201);
    HttpReply full = a.send("one too many");
    CHECK(full.status == 429);
    CHECK(full.headers["retry-after"] == "1");
    CHECK(json::parse(full.body)["error"] == "SHMQ_EFULL");
    CHECK(a.stats()["ready"] == 32);
}

TEST_CASE("api: a blocking queue still full after ?timeout answers 503 with Retry-After") {
    Api a; // overflow "block"
    for (int i = 0; i < 32; ++i) REQUIRE(a.send("m").status == 201);
    auto t0 = std::chrono::steady_clock::now();
    HttpReply full = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/q/messages?timeout=300", "late");
    CHECK(full.status == 503);
    CHECK(full.headers["retry-after"] == "1");
    CHECK(json::parse(full.body)["error"] == "SHMQ_ETIMEDOUT");
    CHECK(seconds_since(t0) >= 0.25);
    CHECK(a.stats()["ready"] == 32);
}

TEST_CASE("api: bad input gets a clear JSON error") {
    Api a("http_max_body = 1024\n");
    auto error_of = [](const HttpReply &r) { return json::parse(r.body)["error"].get<std::string>(); };
    HttpReply r = a.send(std::string(2000, 'x'));
    CHECK(r.status == 413); // past http_max_body
    CHECK(error_of(r) == "SHMQ_ETOOBIG");
    r = a.send(std::string(100, 'x')); // past the queue's 64-byte slots
    CHECK(r.status == 413);
    CHECK(error_of(r) == "SHMQ_ETOOBIG");
    r = a.send("");
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["message"].get<std::string>().find("empty body") != std::string::npos);
    r = call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/nope/messages", "x");
    CHECK(r.status == 404);
    CHECK(error_of(r) == "SHMQ_ENOTFOUND");
    r = call(a.e, "GET", "/v1/queues/{queue}", "/v1/queues/nope");
    CHECK(r.status == 404);
    for (const char *bad : {"q~zz", "q", "q~0123", "bad!name~00000000000000000000000000000000"}) {
        r = a.settle(bad, "ack");
        CHECK(r.status == 400);
        CHECK(json::parse(r.body)["message"].get<std::string>().find("malformed receipt") != std::string::npos);
    }
    r = a.settle("q~00000000000000000000000000000000", "ack"); // well-formed, names no lease
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["message"].get<std::string>().find("names no lease") != std::string::npos);
    r = a.settle("q~00000000000000000000000000000000", "bogus");
    CHECK(r.status == 404);
    for (const char *q : {"?max=0", "?max=abc", "?max=1001", "?wait=-1", "?wait=99999999", "?lease=x", "?max="}) {
        r = a.lease(q);
        CHECK(r.status == 400);
        CHECK(json::parse(r.body)["message"].get<std::string>().find("query parameter") != std::string::npos);
    }
    r = http_request(a.e, "GET", "/v2/nothing");
    CHECK(r.status == 404);
    r = http_request(a.e, "DELETE", "/v1/queues/q");
    CHECK(r.status == 404);
}

TEST_CASE("api: on loopback TCP a request needs the bearer token from the token file") {
    TempDir tmp(false);
    tmp.write("token", "s3cret\n");
    Api a("api_tcp = \"127.0.0.1:0\"\napi_token_file = \"" + tmp.file("token") + "\"\n");
    std::string log = a.d->log(), key = "api on http://127.0.0.1:";
    REQUIRE(log.find(key) != std::string::npos);
    Endpoint tcp{std::atoi(log.c_str() + log.find(key) + key.size()), ""};
    CHECK(call(tcp, "GET", "/v1/queues", "/v1/queues").status == 401);
    CHECK(call(tcp, "GET", "/v1/queues", "/v1/queues", "", {{"Authorization", "Bearer wrong"}}).status == 401);
    CHECK(call(tcp, "GET", "/v1/queues", "/v1/queues", "", {{"Authorization", "Bearer s3cret"}}).status == 200);
    CHECK(call(a.e, "GET", "/v1/queues", "/v1/queues").status == 200); // the Unix socket: its file mode guards it
}

TEST_CASE("api: a missing token file stops shmqd from starting, naming the key") {
    TempDir dir;
    std::string cfg = daemon_section(dir);
    cfg.insert(cfg.find("[daemon]\n") + 9, "api_tcp = \"127.0.0.1:0\"\n");
    dir.write("shmqd.toml", cfg + queue_section("q"));
    std::string out;
    CHECK(run_shmqd({"--config", dir.file("shmqd.toml"), "--foreground"}, &out) == 2);
    CHECK(out.find("api_token_file") != std::string::npos);
}

TEST_CASE("api: the socket gets the configured mode") {
    Api a("api_socket_mode = 0o660\n");
    struct stat st {};
    REQUIRE(stat(a.e.unix_path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("api: a long-poll in progress when shmqd stops gets an answer, not a dropped connection") {
    Api a;
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    HttpReply got;
    std::thread poller([&] { got = http_request(a.e, "POST", "/v1/queues/q/leases?wait=20000", ""); });
    REQUIRE(eventually([&] { return api_sleeping(q, a.d->pid()); }));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(a.d->stop() == 0);
    poller.join();
    CHECK(seconds_since(t0) < 10.0);
    CHECK(got.status == 200);
    CHECK(got.body.find("\"messages\":[]") != std::string::npos);
    shmq_close(q);
}

TEST_CASE("api: leases held over HTTP go back to the queue when shmqd stops") {
    Api a("", "lease_ms = 600000\n");
    REQUIRE(a.send("x").status == 201);
    a.lease_one("");
    CHECK(a.d->stop() == 0);
    shmq_queue *q = open_queue("q");
    REQUIRE(q != nullptr);
    shmq_stats s = stats_of(q);
    CHECK(s.leased == 0);
    CHECK(s.ready + s.delayed == 1);
    shmq_close(q);
}

TEST_CASE("api: a queue added by SIGHUP is served, one removed is not") {
    Api a;
    CHECK(call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/r/messages", "x").status == 404);
    a.dir.write("shmqd.toml", daemon_section(a.dir) + queue_section("r"));
    a.d->signal(SIGHUP);
    REQUIRE(eventually([&] { return a.d->log_has("reloaded"); }));
    CHECK(call(a.e, "POST", "/v1/queues/{queue}/messages", "/v1/queues/r/messages", "x").status == 201);
    CHECK(a.send("x").status == 404);
    HttpReply all = call(a.e, "GET", "/v1/queues", "/v1/queues");
    REQUIRE(all.status == 200);
    REQUIRE(json::parse(all.body).size() == 1);
    CHECK(json::parse(all.body)[0]["name"] == "r");
}

TEST_CASE("api: every path in openapi.json answers") {
    Api a("", "", kTopic);
    const json &paths = spec()["paths"];
    REQUIRE(a.send("x").status == 201);
    json m = a.lease_one("");
    std::map<std::string, std::string> concrete = {
        {"/v1/queues", "/v1/queues"},
        {"/v1/queues/{queue}", "/v1/queues/q"},
        {"/v1/queues/{queue}/messages", "/v1/queues/q/messages"},
        {"/v1/queues/{queue}/leases", "/v1/queues/q/leases"},
        {"/v1/queues/{topic}/{group}/leases", "/v1/queues/t/a/leases"},
        {"/v1/receipts/{receipt}/{action}", "/v1/receipts/" + m["receipt"].get<std::string>() + "/ack"},
        {"/metrics", "/metrics"},
        {"/healthz", "/healthz"}};
    for (auto &[tmpl, item] : paths.items()) {
        INFO(tmpl);
        REQUIRE(concrete.count(tmpl) == 1);
        for (const char *method : {"get", "post"}) {
            if (!item.contains(method)) continue;
            HttpReply r = call(a.e, method == std::string("get") ? "GET" : "POST", tmpl, concrete[tmpl], "body");
            CHECK(r.status / 100 == 2);
        }
    }
    CHECK(concrete.size() == paths.size());
    HttpReply metrics = http_request(a.e, "GET", "/metrics");
    CHECK(metrics.body.find("shmq_queue_slots{queue=\"q\"} 32") != std::string::npos);
}

TEST_CASE("every error code has its own name and a status in HTTP errors, the newest codes included") {
    std::set<std::string> names;
    for (int rc = SHMQ_OK; rc <= SHMQ_EREBOOTED; ++rc) {
        CAPTURE(rc);
        std::string n = shmqd::code_name(rc);
        CHECK(n.rfind("SHMQ_", 0) == 0);
        CHECK((rc == SHMQ_ESYS || n != "SHMQ_ESYS"));
        names.insert(n);
    }
    CHECK(names.size() == size_t(SHMQ_EREBOOTED) + 1);
    CHECK(std::string(shmqd::code_name(SHMQ_EDEDUPFULL)) == "SHMQ_EDEDUPFULL");
    CHECK(shmqd::http_status(SHMQ_EDEDUPFULL) == 429); // a full table: retry later, as SHMQ_EFULL
    CHECK(shmqd::http_status(SHMQ_ERANGE) == 400);
    CHECK(shmqd::http_status(SHMQ_EBUSY) == 409);
    CHECK(shmqd::http_status(SHMQ_EFLUSH) == 500);
    CHECK(shmqd::http_status(SHMQ_EREBOOTED) == 503);
}
