// config.cpp - reading shmqd's TOML configuration.
//
// A TableReader walks one TOML table: each typed getter checks the value's
// type and range and remembers the key, and finish() reports any key nobody
// asked for. The first problem wins and becomes a message naming the full key
// ("queues.orders.slot_size") and its line, so a typo never passes silently.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include "config.hpp"
#include "net_address.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <type_traits>
#include <sstream>
#include <utility>

namespace shmqd {

namespace {

constexpr uint32_t kMaxTimeMs = 86400000; // the core's limit on lease and retry times

std::string where(const toml::node &n) {
    const auto &b = n.source().begin;
    return b.line > 0 ? " (line " + std::to_string(b.line) + ")" : "";
}

class TableReader {
public:
    TableReader(const toml::table &t, std::string prefix, std::string *err)
        : t_(t), prefix_(std::move(prefix)), err_(err) {}

    template <class T> void integer(const char *key, T lo, T hi, T *out) {
        const toml::node *n = get(key);
        if (n == nullptr) return;
        std::optional<int64_t> v = n->value_exact<int64_t>();
        if (!v || *v < int64_t(lo) || uint64_t(*v) > uint64_t(hi))
            return fail(key, *n, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
        *out = T(*v);
    }
    void number(const char *key, double lo, double hi, double *out) {
        const toml::node *n = get(key);
        if (n == nullptr) return;
        std::optional<double> v = n->value<double>(); // integers convert too
        if (!v || !std::isfinite(*v) || *v < lo || *v > hi) {
            std::ostringstream s;
            s << "expected a number in " << lo << ".." << hi;
            return fail(key, *n, s.str());
        }
        *out = *v;
    }
    void text(const char *key, std::string *out) {
        const toml::node *n = get(key);
        if (n == nullptr) return;
        if (!n->is_string()) return fail(key, *n, "expected a string");
        *out = *n->value<std::string>();
    }
    void boolean(const char *key, bool *out) {
        const toml::node *n = get(key);
        if (n == nullptr) return;
        if (!n->is_boolean()) return fail(key, *n, "expected true or false");
        *out = *n->value<bool>();
    }
    // A string that must be one of `names`; *out becomes its index.
    template <class T> void choice(const char *key, std::initializer_list<const char *> names, T *out) {
        const toml::node *n = get(key);
        if (n == nullptr) return;
        std::optional<std::string> v = n->value<std::string>();
        uint32_t i = 0;
        for (const char *name : names) {
            if (v && *v == name) {
                if constexpr (std::is_same_v<T, std::string>) *out = name;
                else *out = T(i);
                return;
            }
            ++i;
        }
        std::string list;
        for (const char *name : names) list += std::string(list.empty() ? "" : ", ") + "\"" + name + "\"";
        fail(key, *n, "expected one of " + list);
    }
    void file_mode(const char *key, uint32_t *out);
    const toml::node *get(const char *key) {
        seen_.insert(key);
        return failed() ? nullptr : t_.get(key);
    }
    void fail(const char *key, const toml::node &n, const std::string &what) {
        if (!failed()) *err_ = prefix_ + key + where(n) + ": " + what + ", got " + shown(n);
    }
    void fail_plain(const std::string &what) {
        if (!failed()) *err_ = what;
    }
    // Report the first key no getter asked for.
    void finish() {
        for (auto &&[k, v] : t_) {
            if (failed()) return;
            if (seen_.count(std::string(k.str())) == 0)
                *err_ = prefix_ + std::string(k.str()) + where(v) + ": unknown key";
        }
    }
    bool failed() const { return !err_->empty(); }
    const std::string &prefix() const { return prefix_; }

private:
    static std::string shown(const toml::node &n) {
        std::ostringstream s;
        if (n.is_table()) s << "a table";
        else if (n.is_array()) s << "an array";
        else if (auto v = n.value<std::string>(); v && n.is_string()) s << '"' << *v << '"';
        else n.visit([&](auto &&x) { s << x; });
        return s.str();
    }

    const toml::table &t_;
    std::string prefix_;
    std::string *err_;
    std::set<std::string> seen_;
};

// A file mode as an integer (TOML 0o660) or a string ("0660").
void TableReader::file_mode(const char *key, uint32_t *out) {
    const toml::node *n = get(key);
    if (n == nullptr) return;
    int64_t m = -1;
    if (auto i = n->value_exact<int64_t>()) m = *i;
    if (auto s = n->value_exact<std::string>()) {
        char *end = nullptr;
        m = s->empty() ? -1 : int64_t(std::strtol(s->c_str(), &end, 8));
        if (end == nullptr || *end != '\0') m = -1;
    }
    if (m < 0 || (m & ~0660) != 0 || (m & 0600) != 0600)
        return fail(key, *n, "expected a file mode 0600, 0640 or 0660 (nothing for others)");
    *out = uint32_t(m);
}

void read_fsync(TableReader &r, const char *key, FsyncPolicy *out) {
    r.choice(key, {"always", "interval", "never"}, out);
}

void read_segment_params(TableReader &r, shmq_params *p) {
    r.integer<uint32_t>("slot_size", 1, 1u << 30, &p->slot_size);
    r.integer<uint32_t>("slot_count", 1, 1u << 24, &p->slot_count);
    r.integer<uint32_t>("max_clients", 2, 500, &p->max_clients);
    r.integer<uint32_t>("lease_ms", 1, kMaxTimeMs, &p->lease_ms);
    r.integer<uint32_t>("max_attempts", 1, 1000000, &p->max_attempts);
    r.integer<uint32_t>("backoff_base_ms", 0, kMaxTimeMs, &p->backoff_base_ms);
    r.integer<uint32_t>("backoff_cap_ms", 0, kMaxTimeMs, &p->backoff_cap_ms);
    r.choice("jitter", {"none", "full", "equal"}, &p->jitter);
    r.choice("overflow", {"block", "fail", "spill"}, &p->overflow);
    r.file_mode("mode", &p->mode);
    r.integer<uint32_t>("ttl_ms", 0, uint32_t(SHMQ_MAX_TTL_NS / 1000000), &p->ttl_ms);
    r.integer<uint32_t>("dedup_window_ms", 0, SHMQ_MAX_DEDUP_WINDOW_MS, &p->dedup_window_ms);
    r.integer<uint32_t>("dedup_capacity", 0, SHMQ_MAX_DEDUP_CAPACITY, &p->dedup_capacity);
}

void read_durability(TableReader &r, Durability *out) {
    const toml::node *n = r.get("durability");
    if (n == nullptr) return;
    std::optional<std::string> v = n->value_exact<std::string>();
    if (v && *v == "memory") *out = Durability::Memory;
    else if (v && *v == "reboot") *out = Durability::Reboot;
    else if (v && *v == "disk") *out = Durability::Disk;
    else r.fail("durability", *n, "expected one of \"memory\", \"reboot\", \"disk\"");
}

void check_queue(TableReader &r, const QueueConfig &q) {
    if (q.params.backoff_base_ms > q.params.backoff_cap_ms)
        r.fail_plain(r.prefix() + "backoff_base_ms: must not exceed backoff_cap_ms (" +
                     std::to_string(q.params.backoff_cap_ms) + "), got " + std::to_string(q.params.backoff_base_ms));
    if (q.spill_low_water >= q.spill_high_water)
        r.fail_plain(r.prefix() + "spill_low_water: must be below spill_high_water");
    if (q.params.overflow == SHMQ_OVERFLOW_SPILL && q.params.slot_count < 2)
        r.fail_plain(r.prefix() + "slot_count: the spill policy needs at least 2 slots");
    if (q.params.dedup_capacity != 0 && q.params.dedup_window_ms == 0) // shmq_create refuses it too
        r.fail_plain(r.prefix() + "dedup_capacity: needs " + r.prefix() +
                     "dedup_window_ms (deduplication is off without a window, so no send could use the table); "
                     "set dedup_window_ms or remove dedup_capacity");
}

void read_queue_keys(TableReader &r, QueueConfig *q) {
    read_segment_params(r, &q->params);
    r.number("spill_high_water", 0.0, 1.0, &q->spill_high_water);
    r.number("spill_low_water", 0.0, 1.0, &q->spill_low_water);
    r.integer<uint64_t>("spill_max_bytes", 4096, uint64_t(1) << 50, &q->spill_max_bytes);
    read_fsync(r, "dlq_fsync", &q->dlq_fsync);
    read_fsync(r, "spill_fsync", &q->spill_fsync);
    r.integer<uint32_t>("fsync_interval_ms", 1, 3600000, &q->fsync_interval_ms);
    r.number("redrive_rate", 0.001, 1e9, &q->redrive_rate);
    r.integer<uint64_t>("dlq_max_records", 0, uint64_t(1) << 40, &q->dlq_max_records);
    r.integer<uint64_t>("dlq_max_age_ms", 0, uint64_t(10) * 366 * 86400000, &q->dlq_max_age_ms);
    read_durability(r, &q->durability);
    q->params.durability = q->durability == Durability::Disk ? SHMQ_DURABILITY_DISK : SHMQ_DURABILITY_MEMORY;
    r.integer<uint32_t>("flush_ms", 1, 60000, &q->flush_ms);
}

void read_queue(const toml::table &t, const std::string &name, QueueConfig *q, std::string *err) {
    TableReader r(t, "queues." + name + ".", err);
    read_queue_keys(r, q);
    r.finish();
    if (!r.failed()) check_queue(r, *q);
}

// A topic's `groups` (names, each once) and `max_groups` (default: room to
// bind as many again live, at least 4, at most SHMQ_MAX_GROUPS).
void read_groups(TableReader &r, QueueConfig *q) {
    const toml::node *n = r.get("groups");
    const toml::array *a = n == nullptr ? nullptr : n->as_array();
    if (n != nullptr && a == nullptr) return r.fail("groups", *n, "expected an array of group names");
    for (size_t i = 0; a != nullptr && i < a->size(); ++i) {
        std::optional<std::string> g = (*a)[i].value_exact<std::string>();
        if (!g || shmq_name_check(g->c_str()) != SHMQ_OK)
            return r.fail("groups", (*a)[i], "expected group names ([A-Za-z0-9._-]{1,64})");
        if (std::find(q->groups.begin(), q->groups.end(), *g) != q->groups.end())
            return r.fail("groups", (*a)[i], "a group named twice");
        q->groups.push_back(*g);
    }
    q->params.max_groups = std::clamp<uint32_t>(2 * uint32_t(q->groups.size()), 4, SHMQ_MAX_GROUPS);
    r.integer<uint32_t>("max_groups", 1, SHMQ_MAX_GROUPS, &q->params.max_groups);
    if (!r.failed() && q->groups.size() > q->params.max_groups)
        r.fail_plain(r.prefix() + "max_groups: must be at least the number of groups (" +
                     std::to_string(q->groups.size()) + "), got " + std::to_string(q->params.max_groups));
}

// [topics.T.group_options.G]: backlog and overflow of one configured group.
// Per group there is no "block" or "fail": a publish-time check of one
// group's backlog would be a protocol change (docs/core.md, Topics); those
// apply to the topic's payload slots as a whole.
void read_group_option(const toml::node &v, const std::string &g, const std::string &prefix, QueueConfig *q,
                       std::string *err) {
    const std::string at = prefix + "group_options." + g;
    if (std::find(q->groups.begin(), q->groups.end(), g) == q->groups.end())
        return (void)(*err = at + where(v) + ": not a group of this topic (groups = [...] names them)");
    if (!v.is_table()) return (void)(*err = at + where(v) + ": expected a table [" + at + "]");
    TableReader r(*v.as_table(), at + ".", err);
    GroupOptions o = group_options(*q, g);
    r.integer<uint32_t>("backlog", 1, 1u << 24, &o.backlog);
    std::string overflow = o.spill ? "spill" : "hold";
    if (const toml::node *n = r.get("overflow"); n != nullptr && (n->value_or(std::string()) == "block" ||
                                                                 n->value_or(std::string()) == "fail"))
        r.fail("overflow", *n, "\"block\" and \"fail\" apply to the topic's payload slots as a whole (set the "
                               "topic's overflow); a group's overflow is \"spill\" or \"hold\"");
    r.choice("overflow", {"spill", "hold"}, &overflow);
    r.finish();
    if (!r.failed() && o.backlog >= q->params.slot_count)
        r.fail_plain(at + ".backlog: must be below the topic's slot_count (" + std::to_string(q->params.slot_count) +
                     "), got " + std::to_string(o.backlog));
    o.spill = overflow == "spill";
    for (GroupOptions &x : q->group_options)
        if (x.name == g) x = o;
}

void read_group_options(TableReader &r, QueueConfig *q, std::string *err) {
    for (const std::string &g : q->groups) q->group_options.push_back(group_options(*q, g));
    const toml::node *n = r.get("group_options");
    if (n == nullptr) return;
    if (!n->is_table()) return r.fail("group_options", *n, "expected tables [" + r.prefix() + "group_options.GROUP]");
    for (auto &&[k, v] : *n->as_table()) {
        if (!err->empty()) return;
        read_group_option(v, std::string(k.str()), r.prefix(), q, err);
    }
}

// Not built for topics yet: durability "disk".
void check_topic(TableReader &r, const QueueConfig &q) {
    if (q.durability == Durability::Disk)
        r.fail_plain(r.prefix() + "durability: \"disk\" is not built for topics yet; use \"reboot\" or \"memory\"");
}

void read_topic(const toml::table &t, const std::string &name, QueueConfig *q, std::string *err) {
    TableReader r(t, "topics." + name + ".", err);
    read_queue_keys(r, q);
    read_groups(r, q);
    if (!r.failed()) read_group_options(r, q, err);
    r.finish();
    if (!r.failed()) check_queue(r, *q);
    if (!r.failed()) check_topic(r, *q);
}

std::string anchored(const std::string &path, const std::string &base) {
    if (path.empty() || path[0] == '/' || base.empty()) return path;
    return base + "/" + path;
}

void read_daemon(const toml::table &t, const std::string &base, DaemonConfig *d, std::string *err) {
    TableReader r(t, "daemon.", err);
    r.text("spill_dir", &d->spill_dir);
    r.text("dead_letter_dir", &d->dead_letter_dir);
    r.text("metrics", &d->metrics);
    r.boolean("metrics_allow_remote", &d->metrics_allow_remote);
    r.integer<uint32_t>("http_max_connections", 1, 10000, &d->http_max_connections);
    r.integer<uint32_t>("http_idle_timeout_s", 1, 3600, &d->http_idle_timeout_s);
    r.integer<uint64_t>("http_max_body", 1, uint64_t(1) << 30, &d->http_max_body);
    r.text("api_socket", &d->api_socket);
    r.file_mode("api_socket_mode", &d->api_socket_mode);
    r.text("api_tcp", &d->api_tcp);
    r.text("api_token_file", &d->api_token_file);
    r.integer<uint32_t>("tick_ms", 1, 1000, &d->tick_ms);
    r.choice("log_level", {"trace", "debug", "info", "warn", "error", "critical", "off"}, &d->log_level);
    r.finish();
    d->spill_dir = anchored(d->spill_dir, base);
    d->dead_letter_dir = anchored(d->dead_letter_dir, base);
    if (d->api_socket != "off") d->api_socket = anchored(d->api_socket, base);
    d->api_token_file = anchored(d->api_token_file, base);
}

// [queues.NAME] or, with `kind` "topics", [topics.NAME]: one namespace (segments).
void read_queues(const toml::table &t, const std::string &kind, Config *c, std::string *err) {
    for (auto &&[k, v] : t) {
        std::string name(k.str());
        if (shmq_name_check(name.c_str()) != SHMQ_OK) {
            *err = kind + "." + name + where(v) + ": not a valid queue name ([A-Za-z0-9._-]{1,64})";
            return;
        }
        if (!v.is_table()) {
            *err = kind + "." + name + where(v) + ": expected a table [" + kind + "." + name + "]";
            return;
        }
        if (find_queue(*c, name) != nullptr) {
            *err = kind + "." + name + where(v) + ": the name of a queue too: queues and topics share one namespace";
            return;
        }
        QueueConfig q = default_queue(name);
        if (kind == "topics") read_topic(*v.as_table(), name, &q, err);
        else read_queue(*v.as_table(), name, &q, err);
        if (!err->empty()) return;
        c->queues.push_back(q);
    }
}

// The top level: version, [daemon], [queues.*], [topics.*].
void read_root(const toml::table &root, const std::string &base, Config *c, std::string *err) {
    TableReader r(root, "", err);
    const toml::node *v = r.get("version");
    if (v == nullptr && !r.failed()) *err = "version: missing (write version = 1 at the top)";
    r.integer<int>("version", 1, 1, &c->version);
    const toml::node *d = r.get("daemon");
    if (d != nullptr && !d->is_table()) r.fail("daemon", *d, "expected a table [daemon]");
    else if (d != nullptr) read_daemon(*d->as_table(), base, &c->daemon, err);
    for (const char *kind : {"queues", "topics"}) {
        const toml::node *q = r.get(kind);
        if (q != nullptr && !q->is_table()) r.fail(kind, *q, std::string("expected tables [") + kind + ".NAME]");
        else if (q != nullptr) read_queues(*q->as_table(), kind, c, err);
    }
    r.finish();
}

// Each configured group's store name (group_store_name) is a valid name
// that no queue, topic or other group has.
void check_group_names(const Config &c, std::string *err) {
    std::set<std::string> seen;
    for (const QueueConfig &q : c.queues)
        for (const std::string &g : q.groups) {
            std::string n = group_store_name(q.name, g), at = "topics." + q.name + ".groups: group " + g + ": ";
            if (shmq_name_check(n.c_str()) != SHMQ_OK)
                *err = at + "its dead letters are kept as " + n + ", longer than 64 characters; use shorter names";
            else if (find_queue(c, n) != nullptr || !seen.insert(n).second)
                *err = at + "its dead letters are kept as " + n + ", which names another queue, topic or group " +
                       "too; rename one of them";
            if (!err->empty()) return;
        }
}

void check_daemon(const Config &c, std::string *err) {
    std::string why;
    if (c.daemon.metrics != "off" && parse_address(c.daemon.metrics, nullptr, &why) != 0)
        *err = "daemon.metrics: " + why + ", got \"" + c.daemon.metrics + "\"";
    else if (c.daemon.metrics != "off" && !c.daemon.metrics_allow_remote && !is_loopback(c.daemon.metrics))
        *err = "daemon.metrics: \"" + c.daemon.metrics +
               "\" is not a loopback address; set metrics_allow_remote = true to expose metrics beyond this host";
    else if (c.daemon.api_tcp != "off" && parse_address(c.daemon.api_tcp, nullptr, &why) != 0)
        *err = "daemon.api_tcp: " + why + ", got \"" + c.daemon.api_tcp + "\"";
    else if (c.daemon.api_tcp != "off" && !is_loopback(c.daemon.api_tcp))
        *err = "daemon.api_tcp: \"" + c.daemon.api_tcp + "\" is not a loopback address";
    else if (c.daemon.api_tcp != "off" && c.daemon.api_token_file.empty())
        *err = "daemon.api_token_file: required with api_tcp (clients send the token as a bearer token)";
    else if (c.daemon.spill_dir.empty()) *err = "daemon.spill_dir: must not be empty";
    else if (c.daemon.dead_letter_dir.empty()) *err = "daemon.dead_letter_dir: must not be empty";
    else if (c.queues.empty()) *err = "queues: no queue configured (add a [queues.NAME] or [topics.NAME] table)";
}

// The API socket when the config names none: in systemd's RuntimeDirectory=
// (/run/shmqd under the unit), else beside the spill (and shmqd.lock).
std::string default_api_socket(const std::string &spill_dir) {
    const char *r = getenv("RUNTIME_DIRECTORY");
    if (r == nullptr || *r == '\0') return spill_dir + "/shmqd.sock";
    std::string dir(r);
    return dir.substr(0, dir.find(':')) + "/shmqd.sock";
}

std::string state_dir() {
    const char *s = getenv("STATE_DIRECTORY"); // systemd's StateDirectory=
    if (s == nullptr || *s == '\0') return "/var/lib/shmqd";
    std::string dir(s);
    size_t colon = dir.find(':'); // several directories: the first one
    return colon == std::string::npos ? dir : dir.substr(0, colon);
}

} // namespace

QueueConfig default_queue(const std::string &name) {
    QueueConfig q;
    q.name = name;
    shmq_params_init(&q.params);
    return q;
}

Config default_config() {
    Config c;
    c.source = "(built-in default)";
    c.daemon.spill_dir = state_dir() + "/spill";
    c.daemon.dead_letter_dir = state_dir() + "/dead-letters";
    c.daemon.api_socket = default_api_socket(c.daemon.spill_dir);
    c.queues.push_back(default_queue("default"));
    return c;
}

// toml++ 3.3 reaches __builtin_unreachable on some non-ASCII characters where
// it classifies whitespace (found by fuzz_config), and malformed text makes
// "inside a string or comment" undecidable before parsing, so the config must
// be ASCII. Returns 0, or the line of the first non-ASCII byte.
static size_t non_ascii_line(const std::string &text) {
    size_t line = 1;
    for (char c : text) {
        if (c == '\n') ++line;
        if (static_cast<unsigned char>(c) >= 0x80) return line;
    }
    return 0;
}

// toml++'s message, except for a table defined twice: toml++ garbles the
// name of a quoted one ('queues."ororders.v2"'), so we quote the line itself.
static std::string parse_error(const std::string &text, const toml::parse_error &e) {
    std::string at = "line " + std::to_string(e.source().begin.line);
    std::string what(e.description());
    if (what.find("cannot redefine existing table") == std::string::npos)
        return at + ", column " + std::to_string(e.source().begin.column) + ": " + what;
    std::istringstream in(text);
    std::string line;
    for (uint32_t n = 0; n < e.source().begin.line && std::getline(in, line); ++n) {
    }
    size_t b = line.find_first_not_of(" \t"), end = line.find(']', b == std::string::npos ? 0 : b);
    std::string header = b == std::string::npos ? line : line.substr(b, end == std::string::npos ? end : end - b + 1);
    return at + ": the table " + header + " is defined twice (each queue has one table)";
}

ConfigResult parse_config(const std::string &text, const std::string &source, const std::string &base_dir) {
    ConfigResult res;
    res.config = default_config();
    res.config.queues.clear();
    res.config.daemon.api_socket.clear(); // default: beside the spill_dir the file gives
    res.config.source = source;
    if (size_t line = non_ascii_line(text); line != 0) {
        res.error = "line " + std::to_string(line) + ": a non-ASCII character (the configuration must be ASCII)";
        return res;
    }
    toml::parse_result parsed = toml::parse(text, source);
    if (!parsed) {
        res.error = parse_error(text, parsed.error());
        return res;
    }
    read_root(parsed.table(), base_dir, &res.config, &res.error);
    DaemonConfig &d = res.config.daemon;
    if (d.api_socket.empty()) d.api_socket = default_api_socket(d.spill_dir);
    if (res.ok()) check_daemon(res.config, &res.error);
    if (res.ok()) check_group_names(res.config, &res.error);
    std::sort(res.config.queues.begin(), res.config.queues.end(),
              [](const QueueConfig &a, const QueueConfig &b) { return a.name < b.name; });
    return res;
}

ConfigResult load_config(const std::string &path) {
    std::error_code dir_ec;
    if (std::filesystem::is_directory(path, dir_ec)) {
        ConfigResult res;
        res.error = "is a directory; give the path of the TOML file";
        return res;
    }
    std::ifstream in(path);
    if (!in) {
        ConfigResult res;
        res.error = "cannot read the file";
        return res;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    std::error_code ec; // relative paths in the file are relative to its directory, made absolute
    std::string base = std::filesystem::absolute(path, ec).parent_path().string();
    return parse_config(buf.str(), path, ec ? std::string(".") : base);
}

std::string group_store_name(const std::string &topic, const std::string &group) { return topic + "." + group; }

GroupOptions group_options(const QueueConfig &q, const std::string &group) {
    for (const GroupOptions &o : q.group_options)
        if (o.name == group) return o;
    GroupOptions o;
    o.name = group;
    o.spill = q.params.overflow == SHMQ_OVERFLOW_SPILL;
    o.backlog = uint32_t(std::clamp(std::floor(q.spill_high_water * q.params.slot_count), 1.0,
                                    std::max(1.0, double(q.params.slot_count) - 1)));
    return o;
}

const QueueConfig *find_queue(const Config &c, const std::string &name) {
    for (const QueueConfig &q : c.queues)
        if (q.name == name) return &q;
    return nullptr;
}

namespace {
const std::pair<const char *, uint32_t shmq_params::*> kParamFields[] = {
    {"slot_size", &shmq_params::slot_size},
    {"slot_count", &shmq_params::slot_count},
    {"max_clients", &shmq_params::max_clients},
    {"lease_ms", &shmq_params::lease_ms},
    {"max_attempts", &shmq_params::max_attempts},
    {"backoff_base_ms", &shmq_params::backoff_base_ms},
    {"backoff_cap_ms", &shmq_params::backoff_cap_ms},
    {"jitter", &shmq_params::jitter},
    {"overflow", &shmq_params::overflow},
    {"mode", &shmq_params::mode},
    {"ttl_ms", &shmq_params::ttl_ms},
    {"max_groups", &shmq_params::max_groups},
    {"dedup_window_ms", &shmq_params::dedup_window_ms}, // not dedup_capacity: the segment rounds it up
    {"durability", &shmq_params::durability},
};
} // namespace

std::vector<std::string> param_differences(const shmq_params &a, const shmq_params &b) {
    std::vector<std::string> out;
    for (const auto &[key, field] : kParamFields)
        if (a.*field != b.*field) out.emplace_back(key);
    return out;
}

std::string param_value(const shmq_params &p, const std::string &key) {
    static const char *const jitter[] = {"none", "full", "equal"};
    static const char *const overflow[] = {"block", "fail", "spill"};
    if (key == "jitter" && p.jitter <= 2) return jitter[p.jitter];
    if (key == "overflow" && p.overflow <= 2) return overflow[p.overflow];
    if (key == "durability") return p.durability == SHMQ_DURABILITY_DISK ? "disk" : "memory";
    if (key == "mode") {
        char buf[16];
        snprintf(buf, sizeof buf, "0%o", p.mode);
        return buf;
    }
    for (const auto &[name, field] : kParamFields)
        if (key == name) return std::to_string(p.*field);
    return "?";
}

const char *fsync_name(FsyncPolicy p) {
    switch (p) {
    case FsyncPolicy::Always: return "always";
    case FsyncPolicy::Interval: return "interval";
    case FsyncPolicy::Never: return "never";
    }
    return "?";
}

const char *durability_name(Durability d) {
    return d == Durability::Reboot ? "reboot" : d == Durability::Disk ? "disk" : "memory";
}

Durability queue_durability(const Config &c, const std::string &name) {
    const QueueConfig *q = find_queue(c, name);
    return q != nullptr ? q->durability : Durability::Memory;
}

} // namespace shmqd
