// shmqd's configuration: the example file parses, defaults are sane, and every
// kind of mistake is refused with a message that names the key.
#include "config.hpp"
#include "net_address.hpp"
#include "redrive_request.hpp"
#include "supervised.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace shmqd;

static ConfigResult parse(const std::string &text) { return parse_config(text, "test.toml", "/base"); }

static std::string error_of(const std::string &text) {
    ConfigResult r = parse(text);
    CHECK_FALSE(r.ok());
    return r.error;
}

TEST_CASE("the commented example config parses") {
    std::ifstream in(SHMQD_EXAMPLE_CONFIG);
    std::stringstream s;
    s << in.rdbuf();
    ConfigResult r = parse_config(s.str(), SHMQD_EXAMPLE_CONFIG, "/etc/shmqd");
    INFO(r.error);
    REQUIRE(r.ok());
    REQUIRE(r.config.queues.size() >= 2);
    const QueueConfig *orders = find_queue(r.config, "orders");
    REQUIRE(orders != nullptr);
    CHECK(orders->params.overflow == SHMQ_OVERFLOW_SPILL);
    const QueueConfig *events = find_queue(r.config, "order-events");
    REQUIRE(events != nullptr);
    CHECK(events->groups.size() == 3);
    CHECK(group_options(*events, "analytics").spill);
    CHECK(group_options(*events, "analytics").backlog == 1024);
    CHECK(!group_options(*events, "email").spill);
}

TEST_CASE("a minimal config: defaults for everything not given, relative paths anchored at the file") {
    ConfigResult r = parse("version = 1\n[daemon]\nspill_dir = \"spill\"\ndead_letter_dir = \"/abs/dlq\"\n"
                           "[queues.b]\n[queues.a]\nslot_count = 8\nmode = 0o660\njitter = \"equal\"\n");
    INFO(r.error);
    REQUIRE(r.ok());
    CHECK(r.config.daemon.spill_dir == "/base/spill");
    CHECK(r.config.daemon.dead_letter_dir == "/abs/dlq");
    CHECK(r.config.daemon.metrics == "127.0.0.1:9464");
    CHECK(r.config.daemon.tick_ms == 5);
    REQUIRE(r.config.queues.size() == 2);
    CHECK(r.config.queues[0].name == "a"); // sorted
    CHECK(r.config.queues[0].params.slot_count == 8);
    CHECK(r.config.queues[0].params.mode == 0660);
    CHECK(r.config.queues[0].params.jitter == SHMQ_JITTER_EQUAL);
    shmq_params d;
    shmq_params_init(&d);
    CHECK(param_differences(r.config.queues[1].params, d).empty());
}

TEST_CASE("a queue table given twice names the table as written; a directory is not a config (issue 13, bug 6)") {
    std::string e = error_of("version = 1\n[queues.\"orders.v2\"]\nslot_count = 8\n\n  [queues.\"orders.v2\"]\n");
    CHECK(e.find("line 5") != std::string::npos);
    CHECK(e.find("[queues.\"orders.v2\"] is defined twice") != std::string::npos);
    CHECK(e.find("ororders") == std::string::npos);
    ConfigResult dir = load_config("/tmp");
    CHECK_FALSE(dir.ok());
    CHECK(dir.error.find("is a directory") != std::string::npos);
    CHECK(dir.error.find("version") == std::string::npos);
}

TEST_CASE("no config file: one queue named default") {
    Config c = default_config();
    REQUIRE(c.queues.size() == 1);
    CHECK(c.queues[0].name == "default");
    CHECK_FALSE(c.daemon.spill_dir.empty());
}

TEST_CASE("mistakes are refused with the key named") {
    const std::string head = "version = 1\n[daemon]\nspill_dir = \"s\"\ndead_letter_dir = \"d\"\n";
    CHECK(error_of(head + "[queues.q]\nslot_sise = 5\n").find("queues.q.slot_sise") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\nslot_sise = 5\n").find("unknown key") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\nslot_size = -5\n").find("queues.q.slot_size") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\nslot_size = \"big\"\n").find("queues.q.slot_size") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\njitter = \"lots\"\n").find("queues.q.jitter") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\noverflow = 3\n").find("queues.q.overflow") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\nmode = 0o666\n").find("queues.q.mode") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\ndlq_fsync = \"sometimes\"\n").find("queues.q.dlq_fsync") !=
          std::string::npos);
    CHECK(error_of(head + "[queues.q]\nspill_high_water = 1.5\n").find("queues.q.spill_high_water") !=
          std::string::npos);
    CHECK(error_of(head + "[queues.q]\nspill_low_water = 0.9\nspill_high_water = 0.5\n")
              .find("queues.q.spill_low_water") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\nbackoff_base_ms = 500\nbackoff_cap_ms = 100\n")
              .find("queues.q.backoff_base_ms") != std::string::npos);
    CHECK(error_of(head + "[queues.\"bad name\"]\n").find("queues.bad name") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\n[daemon2]\n").find("daemon2") != std::string::npos);
    CHECK(error_of("[queues.q]\n").find("version") != std::string::npos);
    CHECK(error_of("version = 2\n[queues.q]\n").find("version") != std::string::npos);
    CHECK(error_of(head).find("queues") != std::string::npos);
    CHECK(error_of(head + "tick_ms = 0\n[queues.q]\n").find("daemon.tick_ms") != std::string::npos);
    CHECK(error_of("version = 1\n[daemon]\nspill_dir = \"s\"\ndead_letter_dir = \"d\"\nlog_level = \"loud\"\n"
                   "[queues.q]\n")
              .find("daemon.log_level") != std::string::npos);
    CHECK(error_of("version = 1\n[daemon\n").find("line 2") != std::string::npos);
}

TEST_CASE("[topics.NAME]: queue keys plus groups and max_groups; one namespace with queues") {
    const std::string head = "version = 1\n[daemon]\nspill_dir = \"s\"\ndead_letter_dir = \"d\"\n";
    ConfigResult r = parse(head + "[topics.orders]\ngroups = [\"email\", \"inventory\"]\nslot_count = 8\n"
                                  "[topics.wide]\ngroups = [\"a\", \"b\", \"c\"]\nmax_groups = 3\n[queues.q]\n");
    REQUIRE_MESSAGE(r.ok(), r.error);
    const QueueConfig *t = find_queue(r.config, "orders");
    REQUIRE(t != nullptr);
    CHECK(t->topic());
    CHECK(t->groups == std::vector<std::string>{"email", "inventory"});
    CHECK(t->params.max_groups == 4); // default: twice the groups, at least 4
    CHECK(t->params.slot_count == 8);
    CHECK(find_queue(r.config, "wide")->params.max_groups == 3);
    CHECK(!find_queue(r.config, "q")->topic());
    CHECK(parse(head + "[topics.t]\n").config.queues.at(0).params.max_groups == 4); // no groups yet: bound live
    CHECK(error_of(head + "[topics.t]\ngroups = [\"a\", \"a\"]\n").find("topics.t.groups") != std::string::npos);
    ConfigResult td = parse(head + "[topics.t]\ndedup_window_ms = 1000\n"); // a topic deduplicates too
    REQUIRE_MESSAGE(td.ok(), td.error);
    CHECK(td.config.queues.at(0).params.dedup_window_ms == 1000);
    CHECK(error_of(head + "[topics.t]\ndedup_window_ms = 604800001\n").find("topics.t.dedup_window_ms") !=
          std::string::npos);
    ConfigResult d = parse(head + "[queues.q]\ndedup_window_ms = 300000\ndedup_capacity = 4096\n");
    REQUIRE_MESSAGE(d.ok(), d.error);
    CHECK(d.config.queues.at(0).params.dedup_window_ms == 300000);
    CHECK(d.config.queues.at(0).params.dedup_capacity == 4096);
    std::string lone = error_of(head + "[queues.q]\ndedup_capacity = 4096\n"); // a table without a window
    CHECK(lone.find("queues.q.dedup_capacity") != std::string::npos);
    CHECK(lone.find("queues.q.dedup_window_ms") != std::string::npos);
    CHECK(error_of(head + "[topics.t]\nslot_count = 1\noverflow = \"spill\"\n").find("topics.t.slot_count") !=
          std::string::npos);
    CHECK(error_of(head + "[queues.q]\ndedup_window_ms = 604800001\n").find("queues.q.dedup_window_ms") !=
          std::string::npos);
    CHECK(error_of(head + "[topics.t]\ngroups = [\"a b\"]\n").find("topics.t.groups") != std::string::npos);
    CHECK(error_of(head + "[topics.t]\ngroups = \"a\"\n").find("topics.t.groups") != std::string::npos);
    CHECK(error_of(head + "[topics.t]\ngroups = [\"a\", \"b\"]\nmax_groups = 1\n").find("topics.t.max_groups") !=
          std::string::npos);
    CHECK(error_of(head + "[topics.t]\nmax_groups = 17\n").find("topics.t.max_groups") != std::string::npos);
    CHECK(parse(head + "[topics.t]\ndurability = \"reboot\"\n").config.queues.at(0).durability ==
          Durability::Reboot); // each configured group's messages are snapshotted
    CHECK(error_of(head + "[topics.t]\nslot_sise = 1\n").find("topics.t.slot_sise") != std::string::npos);
    CHECK(error_of(head + "[queues.x]\n[topics.x]\n").find("namespace") != std::string::npos);
    CHECK(error_of(head + "[queues.q]\ngroups = [\"a\"]\n").find("queues.q.groups") != std::string::npos);
    // A group's dead letters are kept as TOPIC.GROUP: no other name may meet it.
    CHECK(error_of(head + "[topics.t]\ngroups = [\"a\"]\n[queues.\"t.a\"]\n").find("kept as t.a") !=
          std::string::npos);
    CHECK(error_of(head + "[topics.t]\ngroups = [\"a.b\"]\n[topics.\"t.a\"]\ngroups = [\"b\"]\n")
              .find("kept as t.a.b") != std::string::npos);
    CHECK(error_of(head + "[topics.t]\ngroups = [\"" + std::string(63, 'g') + "\"]\n").find("longer than 64") !=
          std::string::npos);
}

TEST_CASE("[topics.T.group_options.G]: a group's backlog and overflow, validated") {
    const std::string head = "version = 1\n[daemon]\nspill_dir = \"s\"\ndead_letter_dir = \"d\"\n"
                             "[topics.t]\ngroups = [\"fast\", \"slow\", \"other\"]\nslot_count = 100\n";
    ConfigResult r = parse(head + "[topics.t.group_options.slow]\nbacklog = 10\noverflow = \"spill\"\n"
                                  "[topics.t.group_options.fast]\noverflow = \"hold\"\n");
    REQUIRE_MESSAGE(r.ok(), r.error);
    const QueueConfig &t = r.config.queues.at(0);
    GroupOptions slow = group_options(t, "slow"), fast = group_options(t, "fast"), other = group_options(t, "other");
    CHECK(slow.spill);
    CHECK(slow.backlog == 10);
    CHECK(!fast.spill);
    CHECK(fast.backlog == 75); // spill_high_water (0.75) x slot_count
    CHECK(!other.spill);      // the topic's overflow is "block": groups hold unless told
    // The topic's overflow "spill" (the payload slots: block, EFULL when a spill store is full) makes it every
    // group's default.
    ConfigResult all = parse(head + "overflow = \"spill\"\n");
    REQUIRE_MESSAGE(all.ok(), all.error);
    CHECK(group_options(all.config.queues.at(0), "other").spill);
    auto err = [&](const std::string &extra) { return error_of(head + extra); };
    CHECK(err("[topics.t.group_options.nope]\nbacklog = 1\n").find("topics.t.group_options.nope") != std::string::npos);
    CHECK(err("[topics.t.group_options.slow]\nbacklog = 100\n").find("below the topic's slot_count") !=
          std::string::npos);
    CHECK(err("[topics.t.group_options.slow]\nbacklog = 0\n").find("topics.t.group_options.slow.backlog") !=
          std::string::npos);
    CHECK(err("[topics.t.group_options.slow]\noverflow = \"block\"\n").find("payload slots as a whole") !=
          std::string::npos);
    CHECK(err("[topics.t.group_options.slow]\noverflow = \"sideways\"\n").find("expected one of") !=
          std::string::npos);
    std::string typo = err("[topics.t.group_options.slow]\nbacklg = 3\n");
    CHECK(typo.find("topics.t.group_options.slow.backlg") != std::string::npos);
    CHECK(typo.find("unknown key") != std::string::npos);
    CHECK(err("[topics.t.group_options]\nslow = 3\n").find("expected a table") != std::string::npos);
}

TEST_CASE("the metrics address must be loopback unless remote access is allowed") {
    const std::string head = "version = 1\n[queues.q]\n[daemon]\nspill_dir = \"s\"\ndead_letter_dir = \"d\"\n";
    CHECK(error_of(head + "metrics = \"0.0.0.0:9464\"\n").find("daemon.metrics") != std::string::npos);
    CHECK(error_of(head + "metrics = \"127.0.0.1\"\n").find("daemon.metrics") != std::string::npos);
    CHECK(error_of(head + "metrics = \"example.com:80\"\n").find("daemon.metrics") != std::string::npos);
    CHECK(parse(head + "metrics = \"0.0.0.0:9464\"\nmetrics_allow_remote = true\n").ok());
    CHECK(parse(head + "metrics = \"[::1]:9464\"\n").ok());
    CHECK(parse(head + "metrics = \"localhost:0\"\n").ok());
    CHECK(parse(head + "metrics = \"off\"\n").ok());
    CHECK(is_loopback("127.0.0.2:1"));
    CHECK_FALSE(is_loopback("10.0.0.1:1"));
}

TEST_CASE("the API: a socket beside the spill by default, loopback TCP only and only with a token file") {
    const std::string head = "version = 1\n[queues.q]\n[daemon]\nspill_dir = \"s\"\ndead_letter_dir = \"d\"\n";
    ConfigResult r = parse_config(head, "test", "/etc/x");
    REQUIRE(r.ok());
    CHECK(r.config.daemon.api_socket == "/etc/x/s/shmqd.sock");
    CHECK(r.config.daemon.api_socket_mode == 0600);
    CHECK(r.config.daemon.api_tcp == "off");
    CHECK(parse(head + "api_socket = \"off\"\n").config.daemon.api_socket == "off");
    setenv("RUNTIME_DIRECTORY", "/run/shmqd", 1); // systemd's RuntimeDirectory=
    CHECK(parse(head).config.daemon.api_socket == "/run/shmqd/shmqd.sock");
    unsetenv("RUNTIME_DIRECTORY");
    CHECK(error_of(head + "api_socket_mode = 0o666\n").find("daemon.api_socket_mode") != std::string::npos);
    CHECK(error_of(head + "api_tcp = \"0.0.0.0:9465\"\napi_token_file = \"t\"\n").find("daemon.api_tcp") !=
          std::string::npos);
    CHECK(error_of(head + "api_tcp = \"127.0.0.1:9465\"\n").find("daemon.api_token_file") != std::string::npos);
    CHECK(parse(head + "api_tcp = \"127.0.0.1:9465\"\napi_token_file = \"t\"\n").ok());
    CHECK(error_of(head + "http_max_connections = 0\n").find("daemon.http_max_connections") != std::string::npos);
    CHECK(error_of(head + "http_max_body = 0\n").find("daemon.http_max_body") != std::string::npos);
}

TEST_CASE("water marks in slots: spill above high, refill at or below low, both towards the middle") {
    QueueConfig q = default_queue("q");
    q.spill_high_water = 0.75;
    q.spill_low_water = 0.25;
    Watermarks m = watermarks(q, 32);
    CHECK(m.high == 24);
    CHECK(m.low == 8);
    CHECK(m.mid == 16);
    m = watermarks(q, 2); // the smallest queue the spill policy accepts
    CHECK(m.high == 1);
    CHECK(m.low == 0);
    CHECK(m.mid == 1);
}

TEST_CASE("a redrive request survives the trip through its file format") {
    RedriveRequest in{{17, 18, 19}, 25, false, "other.q"}, out;
    std::string why;
    REQUIRE(parse_redrive_request(format_redrive_request(in), &out, &why) == 0);
    CHECK(out.ids == in.ids);
    CHECK(out.rate == 25);
    CHECK(out.to == "other.q");
    CHECK(parse_redrive_request("to ../etc\nids all\n", &out, &why) == EINVAL); // a queue name or nothing
    REQUIRE(parse_redrive_request("ids all\n", &out, &why) == 0);
    CHECK(out.ids.empty());
    CHECK(parse_redrive_request("rate 5\n", &out, &why) == EINVAL);
    CHECK(parse_redrive_request("ids 1 x\n", &out, &why) == EINVAL);
    CHECK_FALSE(out.purge);
    RedriveRequest purge{{}, 0, true, ""};
    REQUIRE(parse_redrive_request(format_redrive_request(purge), &out, &why) == 0);
    CHECK(out.purge);
    CHECK(parse_redrive_request("purge\nids 4\n", &out, &why) == EINVAL); // a purge drops all or nothing
    CHECK(why.find("ids all") != std::string::npos);
}

TEST_CASE("non-ASCII text is refused with its line (toml++ 3.3 mishandles some of it)") {
    ConfigResult bad = parse("version = 1\n[queues.q]\nslot_size\xe3\x80\x80= 64\n"); // U+3000 as a space
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error.find("line 3") != std::string::npos);
    CHECK(bad.error.find("non-ASCII") != std::string::npos);
    ConfigResult in_value = parse("versie = 6t_\"127.0.\xef\xb9\xbf" "0\n"); // found by fuzz_config
    CHECK_FALSE(in_value.ok());
    CHECK(parse("# plain ASCII comment\nversion = 1\n[queues.q]\n").ok());
}
