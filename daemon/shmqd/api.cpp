// api.cpp - the /v1 routes (api.hpp). Errors are {"error": "SHMQ_E...",
// "message": ...} with the C API's code names; http_status() maps them.
#include "api.hpp"

#include "headers_json.hpp"
#include "queue_json.hpp"
#include "sys.hpp"

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <nlohmann/json.hpp>

namespace shmqd {

namespace {

constexpr int64_t kMs = 1000000;
constexpr uint32_t kMaxLeaseBatch = 1000;
constexpr uint64_t kMaxWaitMs = 60000;
constexpr int64_t kStalledNs = 5000 * kMs; // /healthz: the loop has not ticked for this long

} // namespace

const char *code_name(int rc) {
    static const char *names[] = {"SHMQ_OK",        "SHMQ_EFULL",      "SHMQ_ETIMEDOUT", "SHMQ_EEMPTY",
                                  "SHMQ_ELEASELOST", "SHMQ_ECLOSED",   "SHMQ_EINVAL",    "SHMQ_EBADNAME",
                                  "SHMQ_ETOOBIG",   "SHMQ_ENOTFOUND",  "SHMQ_EEXIST",    "SHMQ_EVERSION",
                                  "SHMQ_ECORRUPT",  "SHMQ_EPERM",      "SHMQ_ENOSPACE",  "SHMQ_ECLIENTS",
                                  "SHMQ_EPREFETCH", "SHMQ_EINTR",      "SHMQ_ESYS",      "SHMQ_ERANGE",
                                  "SHMQ_EBUSY",     "SHMQ_EDEDUPFULL", "SHMQ_EFLUSH",    "SHMQ_EREBOOTED"};
    return rc >= 0 && size_t(rc) < sizeof names / sizeof *names ? names[rc] : "SHMQ_ESYS";
}

namespace {

HttpResponse error(int rc, const std::string &message) {
    HttpResponse r = json_error(http_status(rc), code_name(rc), message);
    if (r.status == 429 || r.status == 503) r.headers.emplace_back("Retry-After", "1");
    return r;
}

HttpResponse shmq_error(int rc, const std::string &what) { return error(rc, what + ": " + shmq_strerror(rc)); }

HttpResponse json(int status, const nlohmann::json &j) {
    HttpResponse r;
    r.status = status;
    r.body = j.dump() + "\n";
    return r;
}

std::vector<std::string> split_path(const std::string &path) {
    std::vector<std::string> parts;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t end = path.find('/', pos);
        if (end == std::string::npos) end = path.size();
        parts.push_back(path.substr(pos, end - pos));
        pos = end + 1;
    }
    return parts;
}

// Query value `key` as an integer in [lo, hi] (absent: `def`). False with *bad set otherwise.
bool query_int(const HttpRequest &r, const char *key, int64_t lo, int64_t hi, int64_t def, int64_t *out,
               HttpResponse *bad) {
    auto it = r.query.find(key);
    *out = def;
    if (it == r.query.end()) return true;
    errno = 0;
    char *end = nullptr;
    long long v = strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
        *bad = error(SHMQ_EINVAL, std::string("query parameter ") + key + ": expected an integer in " +
                                      std::to_string(lo) + ".." + std::to_string(hi) + ", got \"" + it->second + "\"");
        return false;
    }
    *out = v;
    return true;
}

std::string base64(const void *data, size_t len) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto *p = static_cast<const unsigned char *>(data);
    std::string out;
    out.reserve((len + 2) / 3 * 4);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = uint32_t(p[i]) << 16 | (i + 1 < len ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
        out += tbl[v >> 18 & 63];
        out += tbl[v >> 12 & 63];
        out += i + 1 < len ? tbl[v >> 6 & 63] : '=';
        out += i + 2 < len ? tbl[v & 63] : '=';
    }
    return out;
}

// A target is a queue "q" or a topic's group "t/g" (as in the paths). In a
// receipt the '/' is a '~', so that a receipt is one path segment.
std::string make_receipt(const std::string &target, const shmq_msg &m) {
    char hex[33];
    snprintf(hex, sizeof hex, "%016" PRIx64 "%016" PRIx64, m.receipt[0], m.receipt[1]);
    std::string names = target;
    if (size_t slash = names.find('/'); slash != std::string::npos) names[slash] = '~';
    return names + "~" + hex;
}

// "<queue>~<32 hex>" or "<topic>~<group>~<32 hex>" -> the target ("q" or
// "t/g") and a shmq_msg carrying the receipt words.
bool parse_receipt(const std::string &text, std::string *target, shmq_msg *m) {
    size_t tilde = text.rfind('~');
    if (tilde == std::string::npos || text.size() - tilde - 1 != 32) return false;
    std::string hex = text.substr(tilde + 1);
    if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
    std::string names = text.substr(0, tilde);
    size_t sep = names.find('~');
    std::string first = names.substr(0, sep), group = sep == std::string::npos ? "" : names.substr(sep + 1);
    if (shmq_name_check(first.c_str()) != SHMQ_OK) return false;
    if (sep != std::string::npos && shmq_name_check(group.c_str()) != SHMQ_OK) return false; // a '~' in it too
    *target = sep == std::string::npos ? first : first + "/" + group;
    *m = shmq_msg{};
    m->receipt[0] = strtoull(hex.substr(0, 16).c_str(), nullptr, 16);
    m->receipt[1] = strtoull(hex.substr(16).c_str(), nullptr, 16);
    return true;
}

nlohmann::json message_json(const std::string &queue, shmq_queue *q, const shmq_msg &m) {
    const void *hdrs = nullptr;
    size_t hlen = 0;
    int hrc = shmq_msg_headers(q, &m, &hdrs, &hlen);
    return {{"id", m.id},
            {"headers", hrc == SHMQ_OK ? headers_json(hdrs, hlen) : nlohmann::json(nullptr)},
            {"attempt", m.attempt},
            {"lease_ms", m.lease_ms},
            {"enqueued_unix_seconds", double(m.enqueued_ns) / 1e9},
            {"receipt", make_receipt(queue, m)},
            {"data", base64(m.data, m.len)}};
}

bool authorized(const HttpRequest &r, const std::string &token) {
    auto it = r.headers.find("authorization");
    if (it == r.headers.end()) return false;
    std::string want = "Bearer " + token;
    const std::string &got = it->second;
    unsigned diff = got.size() != want.size();
    for (size_t i = 0; i < want.size(); ++i) diff |= unsigned(i < got.size() ? got[i] ^ want[i] : 1);
    return diff == 0; // compared in full: no early exit on the first wrong byte
}

} // namespace

int http_status(int rc) {
    switch (rc) {
    case SHMQ_OK: return 200;
    case SHMQ_EFULL: case SHMQ_EPREFETCH: return 429;
    case SHMQ_ETIMEDOUT: case SHMQ_ECLOSED: case SHMQ_ECLIENTS: case SHMQ_ENOSPACE: return 503;
    case SHMQ_ELEASELOST: return 409;
    case SHMQ_EINVAL: case SHMQ_EBADNAME: case SHMQ_ERANGE: return 400;
    case SHMQ_EBUSY: return 409;
    case SHMQ_EDEDUPFULL: return 429;
    case SHMQ_EREBOOTED: return 503;
    case SHMQ_ETOOBIG: return 413;
    case SHMQ_ENOTFOUND: return 404;
    case SHMQ_EPERM: return 403;
    default: return 500;
    }
}

Api::~Api() {
    for (auto &[name, q] : handles_) shmq_close(q);
    for (shmq_queue *q : retired_) shmq_close(q);
}

void Api::set_queues(const std::map<std::string, Durability> &queues) {
    std::lock_guard<std::mutex> g(mu_);
    queues_ = queues;
}

bool Api::known(const std::string &queue) const {
    std::lock_guard<std::mutex> g(mu_);
    return queues_.count(queue) != 0;
}

// A queue's handle, or for "t/g" a group handle of a topic this shmqd
// supervises (any group bound on it, configured or not).
int Api::handle_of(const std::string &target, shmq_queue **out) {
    size_t slash = target.find('/');
    std::string queue = target.substr(0, slash);
    std::lock_guard<std::mutex> g(mu_);
    if (queues_.count(queue) == 0) return SHMQ_ENOTFOUND;
    auto it = handles_.find(target);
    if (it != handles_.end()) {
        *out = it->second;
        return SHMQ_OK;
    }
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq_queue *q = nullptr;
    int rc = slash == std::string::npos ? shmq_open(queue.c_str(), &o, &q)
                                        : shmq_open_group(queue.c_str(), target.c_str() + slash + 1, &o, &q);
    if (rc == SHMQ_OK) handles_[target] = *out = q;
    return rc;
}

// A handle that got SHMQ_ECLOSED (the segment was unlinked; the loop makes a
// new one) is retired, not closed: another thread may be inside a call on it.
void Api::retire(const std::string &queue, shmq_queue *q) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = handles_.find(queue);
    if (it == handles_.end() || it->second != q) return; // another thread did it
    retired_.push_back(q);
    handles_.erase(it);
}

HttpResponse Api::handle(const HttpRequest &r, bool tcp) {
    if (tcp && !authorized(r, token_)) {
        HttpResponse e = error(SHMQ_EPERM, "missing or wrong bearer token (Authorization: Bearer ...)");
        e.status = 401;
        e.headers.emplace_back("WWW-Authenticate", "Bearer");
        return e;
    }
    if (r.path == "/metrics" || r.path == "/healthz") {
        if (r.method != "GET") return error(SHMQ_EINVAL, "use GET for " + r.path);
        return r.path == "/healthz" ? health() : serve_metrics(board_, r);
    }
    std::vector<std::string> parts = split_path(r.path);
    if (parts.empty() || parts[0] != "v1") return error(SHMQ_ENOTFOUND, "no such path: " + r.path);
    return route(r, parts);
}

HttpResponse Api::route(const HttpRequest &r, const std::vector<std::string> &p) {
    bool get = r.method == "GET", post = r.method == "POST";
    if (p.size() == 2 && p[1] == "queues" && get) return list();
    if (p.size() == 3 && p[1] == "queues" && get) return stat(p[2]);
    if (p.size() == 4 && p[1] == "queues" && p[3] == "messages" && post) return send(r, p[2]);
    if (p.size() == 4 && p[1] == "queues" && p[3] == "leases" && post) return lease(r, p[2]);
    // A topic's group is addressed topic/group (DESIGN.md); it only consumes.
    if (p.size() == 5 && p[1] == "queues" && p[4] == "leases" && post) return lease(r, p[2] + "/" + p[3]);
    if (p.size() == 5 && p[1] == "queues" && p[4] == "messages" && post)
        return error(SHMQ_ENOTFOUND, "a group does not take sends: publish to its topic, POST /v1/queues/" + p[2] +
                                         "/messages");
    if (p.size() == 4 && p[1] == "receipts" && post) return settle(r, p[2], p[3]);
    return error(SHMQ_ENOTFOUND, "no such route: " + r.method + " " + r.path);
}

HttpResponse Api::send(const HttpRequest &r, const std::string &queue) {
    HttpResponse bad;
    int64_t timeout_ms, delay_ms, ttl_ms;
    if (!query_int(r, "timeout", 0, int64_t(kMaxWaitMs), 0, &timeout_ms, &bad) ||
        !query_int(r, "delay", 0, SHMQ_MAX_DELAY_NS / kMs, 0, &delay_ms, &bad) ||
        !query_int(r, "ttl", 0, SHMQ_MAX_TTL_NS / kMs, 0, &ttl_ms, &bad))
        return bad;
    if (r.body.empty()) return error(SHMQ_EINVAL, "empty body: the body is the message (at least one byte)");
    shmq_send_opts o;
    shmq_send_opts_init(&o);
    o.delay_ns = delay_ms * kMs;
    o.ttl_ns = ttl_ms * kMs;
    nlohmann::json hj; // owns the strings `pairs` point into
    std::vector<shmq_header> pairs;
    if (auto it = r.headers.find("shmq-headers"); it != r.headers.end()) {
        std::string why;
        if (!headers_from_json(it->second, &hj, &pairs, &why))
            return error(SHMQ_EINVAL, "Shmq-Headers: " + why + " (want a JSON object of strings)");
        o.headers = pairs.data();
        o.header_count = pairs.size();
    }
    // Idempotency-Key: the deduplication key (the queue needs a dedup_window_ms).
    auto key = r.headers.find("idempotency-key");
    uint8_t duplicate = 0;
    if (key != r.headers.end()) {
        if (key->second.empty() || key->second.size() > SHMQ_MAX_DEDUP_KEY)
            return error(SHMQ_EINVAL, "Idempotency-Key: 1 to 128 bytes");
        o.dedup_key = key->second.data();
        o.dedup_key_len = key->second.size();
        o.duplicate_out = &duplicate;
    }
    uint64_t id = 0;
    shmq_queue *q = nullptr;
    int rc = handle_of(queue, &q);
    if (rc == SHMQ_OK) rc = shmq_send_ex(q, r.body.data(), r.body.size(), &o, &id, timeout_ms * kMs);
    if (rc == SHMQ_ECLOSED) retire(queue, q);
    if (rc == SHMQ_ECLOSED && handle_of(queue, &q) == SHMQ_OK)
        rc = shmq_send_ex(q, r.body.data(), r.body.size(), &o, &id, timeout_ms * kMs);
    if ((rc == SHMQ_EINVAL || rc == SHMQ_ETOOBIG) && !pairs.empty())
        return shmq_error(rc, "send to " + queue + " (Shmq-Headers: keys 1..255 printable ASCII but '=', at most " +
                                  std::to_string(SHMQ_MAX_HEADERS) + " pairs and " +
                                  std::to_string(SHMQ_MAX_HEADERS_SIZE) + " bytes; payload + headers within the slot)");
    if (rc != SHMQ_OK) return shmq_error(rc, "send to " + queue);
    if (duplicate != 0) return json(200, {{"queue", queue}, {"id", id}, {"duplicate", true}}); // nothing stored
    return json(201, {{"queue", queue}, {"id", id}, {"size", r.body.size()}});
}

HttpResponse Api::lease(const HttpRequest &r, const std::string &queue) {
    HttpResponse bad;
    int64_t max, wait_ms, lease_ms;
    if (!query_int(r, "max", 1, kMaxLeaseBatch, 1, &max, &bad) ||
        !query_int(r, "wait", 0, int64_t(kMaxWaitMs), 0, &wait_ms, &bad) ||
        !query_int(r, "lease", 0, 86400000, 0, &lease_ms, &bad))
        return bad;
    shmq_queue *q = nullptr;
    int rc = handle_of(queue, &q);
    if (rc != SHMQ_OK) return shmq_error(rc, "lease from " + queue);
    std::vector<shmq_msg> msgs(static_cast<size_t>(max));
    size_t n = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    rc = poll(q, &msgs, &n, until);
    if (rc == SHMQ_ECLOSED && n == 0) { // unlinked and made again, or a group removed (and perhaps bound again)
        retire(queue, q);
        if (rc = handle_of(queue, &q); rc != SHMQ_OK) return shmq_error(rc, "lease from " + queue);
        rc = poll(q, &msgs, &n, until);
    }
    if (rc == SHMQ_ECLOSED) retire(queue, q);
    shmq_params params;
    shmq_params_init(&params);
    if (n == 0 && rc == SHMQ_EINVAL && shmq_get_params(q, &params) == SHMQ_OK && params.max_groups > 0 &&
        queue.find('/') == std::string::npos) // a topic's own handle only publishes
        return error(rc, "lease from " + queue + ": a topic is consumed through its groups: POST /v1/queues/" + queue +
                             "/GROUP/leases");
    if (n == 0 && rc != SHMQ_ETIMEDOUT && rc != SHMQ_EEMPTY) return shmq_error(rc, "lease from " + queue);
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
        if (lease_ms > 0) shmq_extend(q, &msgs[i], uint32_t(lease_ms)); // a lost lease shows at ack
        out.push_back(message_json(queue, q, msgs[i]));
    }
    return json(200, {{"messages", out}});
}

// Lease into *msgs until one comes or `until`, in slices, so that stopping
// shmqd ends a long-poll quickly.
int Api::poll(shmq_queue *q, std::vector<shmq_msg> *msgs, size_t *n, std::chrono::steady_clock::time_point until) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        int64_t slice = std::max<int64_t>(0, std::min<int64_t>(left.count(), 200));
        int rc = shmq_recv_batch(q, msgs->data(), msgs->size(), n, slice * kMs);
        if (*n > 0 || (rc != SHMQ_ETIMEDOUT && rc != SHMQ_EEMPTY) || slice == 0 || stopping_) return rc;
    }
}

HttpResponse Api::settle(const HttpRequest &r, const std::string &receipt, const std::string &action) {
    std::string queue;
    shmq_msg m;
    if (!parse_receipt(receipt, &queue, &m))
        return error(SHMQ_EINVAL, "malformed receipt \"" + receipt +
                                      "\" (expected <queue>~<32 hex digits> or <topic>~<group>~<32 hex digits>)");
    HttpResponse bad;
    int64_t delay_ms, lease_ms;
    if (!query_int(r, "delay", -1, 86400000, -1, &delay_ms, &bad) ||
        !query_int(r, "lease", 1, 86400000, 30000, &lease_ms, &bad))
        return bad;
    shmq_queue *q = nullptr;
    int rc = handle_of(queue, &q);
    if (rc != SHMQ_OK) return shmq_error(rc, action + " " + receipt);
    if (action == "ack") rc = shmq_ack(q, &m);
    else if (action == "nack") rc = shmq_nack(q, &m, delay_ms < 0 ? -1 : delay_ms * kMs);
    else if (action == "reject") rc = shmq_reject(q, &m);
    else if (action == "extend") rc = shmq_extend(q, &m, uint32_t(lease_ms));
    else return error(SHMQ_ENOTFOUND, "no such action \"" + action + "\" (ack, nack, reject, extend)");
    if (rc == SHMQ_ECLOSED) retire(queue, q);
    if (rc == SHMQ_EINVAL) return error(rc, action + ": the receipt names no lease of this queue");
    if (rc != SHMQ_OK) return shmq_error(rc, action + " " + receipt);
    if (action == "extend") return json(200, {{"receipt", make_receipt(queue, m)}, {"lease_ms", lease_ms}});
    return json(200, {{"done", action}});
}

HttpResponse Api::list() const {
    std::map<std::string, Durability> queues;
    {
        std::lock_guard<std::mutex> g(mu_);
        queues = queues_;
    }
    nlohmann::json all = nlohmann::json::array();
    for (const auto &[name, durability] : queues) {
        nlohmann::json j;
        if (queue_stat_json(name, &j, durability_name(durability)) == SHMQ_OK) all.push_back(j);
    }
    return json(200, all);
}

HttpResponse Api::stat(const std::string &queue) const {
    Durability durability;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto it = queues_.find(queue);
        if (it == queues_.end()) return error(SHMQ_ENOTFOUND, "no queue \"" + queue + "\" is configured in this shmqd");
        durability = it->second;
    }
    nlohmann::json j;
    int rc = queue_stat_json(queue, &j, durability_name(durability));
    if (rc != SHMQ_OK) return shmq_error(rc, "stat " + queue);
    return json(200, j);
}

HttpResponse Api::health() const {
    Snapshot s = board_.read();
    int64_t age = s.last_tick_ns == 0 ? -1 : s.now_ns - s.last_tick_ns;
    bool ok = age >= 0 && age < kStalledNs;
    return json(ok ? 200 : 503, {{"status", ok ? "ok" : "stalled"},
                                 {"last_tick_age_seconds", age < 0 ? nlohmann::json(nullptr) : nlohmann::json(double(age) / 1e9)}});
}

} // namespace shmqd
