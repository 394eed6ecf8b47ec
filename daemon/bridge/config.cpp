// config.cpp - reading shmq-bridge's TOML configuration.
//
// A Reader walks one table: each typed getter checks type and range and
// remembers the key; finish() reports any key nobody asked for, so a typo
// never passes silently. The first problem wins.
#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include "config.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace bridge {

namespace {

std::string line_of(const toml::node &n) {
    const auto &b = n.source().begin;
    return b.line > 0 ? " (line " + std::to_string(b.line) + ")" : "";
}

class Reader {
public:
    Reader(const toml::table &t, std::string prefix, std::string *err)
        : t_(t), prefix_(std::move(prefix)), err_(err) {}

    void integer(const char *key, uint32_t lo, uint32_t hi, uint32_t *out) {
        const toml::node *n = get(key);
        if (n == nullptr) return;
        std::optional<int64_t> v = n->value_exact<int64_t>();
        if (!v || *v < int64_t(lo) || *v > int64_t(hi))
            return fail(key, *n, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
        *out = uint32_t(*v);
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
    const toml::table *table(const char *key) {
        const toml::node *n = get(key);
        if (n == nullptr) return nullptr;
        if (!n->is_table()) fail(key, *n, "expected a table");
        return n->as_table();
    }
    const toml::array *array(const char *key) {
        const toml::node *n = get(key);
        if (n == nullptr) return nullptr;
        if (!n->is_array_of_tables()) fail(key, *n, "expected an array of tables ([[" + std::string(key) + "]])");
        return n->as_array();
    }
    void require(const char *key, const std::string &value) {
        if (value.empty() && err_->empty())
            *err_ = prefix_ + key + ": required (a non-empty string)";
    }
    void finish() {
        for (const auto &[k, v] : t_)
            if (!seen_.count(std::string(k.str())) && err_->empty())
                *err_ = prefix_ + std::string(k.str()) + line_of(v) + ": unknown key";
    }
    void fail(const char *key, const toml::node &n, const std::string &what) {
        if (err_->empty()) *err_ = prefix_ + key + line_of(n) + ": " + what;
    }
    const std::string &prefix() const { return prefix_; }

private:
    const toml::node *get(const char *key) {
        seen_.insert(key);
        return t_.get(key);
    }
    const toml::table &t_;
    std::string prefix_;
    std::string *err_;
    std::set<std::string> seen_;
};

bool read_secret(const std::string &path, std::string *out, std::string *err) {
    std::ifstream f(path);
    if (!f) {
        *err = "broker.password_file: cannot read " + path;
        return false;
    }
    std::getline(f, *out); // the first line, without its newline
    return true;
}

// "" if `path` can be read (a file with at least one byte), else why not.
std::string unreadable(const std::string &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::strerror(errno);
    char c;
    ssize_t n = ::read(fd, &c, 1);
    std::string why = n < 0 ? std::strerror(errno) : n == 0 ? "empty file" : "";
    ::close(fd);
    return why;
}

// With TLS on, every file named must be readable now, so that --check finds
// a wrong path or permission before the first connection does.
void check_tls_files(const TlsConfig &c, std::string *err) {
    if (!c.enabled || !err->empty()) return;
    if (c.verify_peer && c.ca_file.empty())
        *err = "broker.tls.ca_file: required while verify_peer is true (the CA that signed the broker's certificate)";
    const std::pair<const char *, const std::string *> files[] = {
        {"ca_file", &c.ca_file}, {"cert_file", &c.cert_file}, {"key_file", &c.key_file}};
    for (const auto &[key, path] : files) {
        std::string why = path->empty() ? "" : unreadable(*path);
        if (!why.empty() && err->empty()) *err = "broker.tls." + std::string(key) + ": cannot read " + *path + ": " + why;
    }
}

void read_tls(const toml::table *t, TlsConfig *c, std::string *err) {
    if (t == nullptr) return;
    Reader r(*t, "broker.tls.", err);
    r.boolean("enabled", &c->enabled);
    r.text("ca_file", &c->ca_file);
    r.text("cert_file", &c->cert_file);
    r.text("key_file", &c->key_file);
    r.boolean("verify_peer", &c->verify_peer);
    r.boolean("verify_hostname", &c->verify_hostname);
    r.finish();
    if (c->cert_file.empty() != c->key_file.empty() && err->empty())
        *err = "broker.tls: cert_file and key_file go together";
    check_tls_files(*c, err);
}

void read_broker(const toml::table *t, BrokerConfig *c, std::string *err) {
    if (t == nullptr) return;
    Reader r(*t, "broker.", err);
    r.text("host", &c->host);
    r.integer("port", 1, 65535, &c->port);
    r.text("vhost", &c->vhost);
    r.text("user", &c->user);
    std::string password_file;
    r.text("password_file", &password_file);
    r.integer("heartbeat_s", 0, 3600, &c->heartbeat_s);
    r.integer("connect_timeout_ms", 1, 600000, &c->connect_timeout_ms);
    r.integer("write_timeout_ms", 100, 3600000, &c->write_timeout_ms);
    r.integer("reconnect_min_ms", 1, 600000, &c->reconnect_min_ms);
    r.integer("reconnect_max_ms", 1, 3600000, &c->reconnect_max_ms);
    read_tls(r.table("tls"), &c->tls, err);
    r.finish();
    if (!err->empty()) return;
    if (c->reconnect_max_ms < c->reconnect_min_ms)
        *err = "broker.reconnect_max_ms: must be >= reconnect_min_ms";
    else if (!password_file.empty())
        read_secret(password_file, &c->password, err);
    else if (c->user != "guest")
        *err = "broker.password_file: required unless user is \"guest\"";
}

void read_binding(const toml::table &t, Direction d, size_t i, Binding *b, std::string *err) {
    const char *kind = d == Direction::out ? "out" : "in";
    Reader r(t, std::string(kind) + "[" + std::to_string(i) + "].", err);
    b->direction = d;
    r.text("name", &b->name);
    r.text("local_queue", &b->local_queue);
    r.require("local_queue", b->local_queue);
    r.boolean("envelope", &b->envelope);
    r.text("declare_queue", &b->declare_queue);
    if (d == Direction::out) {
        r.text("group", &b->group);
        r.text("exchange", &b->exchange);
        r.text("routing_key", &b->routing_key);
        r.boolean("mandatory", &b->mandatory);
        r.boolean("persistent", &b->persistent);
        r.integer("max_inflight", 1, 65535, &b->max_inflight);
        r.integer("reject_after", 0, 1000000, &b->reject_after);
    } else {
        r.text("amqp_queue", &b->amqp_queue);
        r.require("amqp_queue", b->amqp_queue);
        r.integer("prefetch", 1, 65535, &b->prefetch);
        r.integer("ack_batch", 1, 65535, &b->ack_batch);
        r.integer("send_timeout_ms", 1, 600000, &b->send_timeout_ms);
        r.boolean("headers", &b->headers);
    }
    r.finish();
    std::string source = b->group.empty() ? b->local_queue : b->local_queue + "/" + b->group;
    if (b->name.empty()) b->name = d == Direction::out ? "out:" + source : "in:" + b->amqp_queue;
}

void read_bindings(const toml::array *a, Direction d, Config *c, std::string *err) {
    if (a == nullptr) return;
    for (size_t i = 0; i < a->size() && err->empty(); i++) {
        Binding b;
        read_binding(*a->get(i)->as_table(), d, i, &b, err);
        c->bindings.push_back(std::move(b));
    }
}

void check_names(const Config &c, std::string *err) {
    std::set<std::string> names;
    for (const Binding &b : c.bindings)
        if (!names.insert(b.name).second && err->empty())
            *err = "binding name \"" + b.name + "\" is used twice (set `name` to tell them apart)";
    if (c.bindings.empty() && err->empty()) *err = "no [[out]] or [[in]] binding: nothing to do";
}

} // namespace

std::optional<Config> load_config(const std::string &path, std::string *err) {
    err->clear();
    toml::parse_result parsed = toml::parse_file(path);
    if (!parsed) {
        std::ostringstream s;
        s << path << " (line " << parsed.error().source().begin.line
          << "): " << parsed.error().description();
        *err = s.str();
        return std::nullopt;
    }
    Config c;
    Reader r(parsed.table(), "", err);
    uint32_t version = 0;
    r.integer("version", 1, 1, &version);
    if (version != 1 && err->empty()) *err = "version: required, and must be 1";
    r.text("log_level", &c.log_level);
    read_broker(r.table("broker"), &c.broker, err);
    if (const toml::table *s = r.table("status")) {
        Reader sr(*s, "status.", err);
        sr.text("file", &c.status.file);
        sr.integer("interval_ms", 10, 3600000, &c.status.interval_ms);
        sr.finish();
    }
    read_bindings(r.array("out"), Direction::out, &c, err);
    read_bindings(r.array("in"), Direction::in, &c, err);
    r.finish();
    check_names(c, err);
    if (!err->empty()) return std::nullopt;
    return c;
}

} // namespace bridge
