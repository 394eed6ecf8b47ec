// http_server.cpp - the libmicrohttpd glue (http_server.hpp). A request goes
// through the access callback several times: first with its headers (the cap
// and the size limit are checked there, before any body is read), then once
// per body chunk, then once more to answer.
#include "http_server.hpp"

#include "net_address.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <microhttpd.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace shmqd {

namespace {

// Per request, between the access callback's calls.
struct Pending {
    HttpRequest req;
    bool too_big = false;
    HttpServer *running = nullptr; // set once its handler runs: counted in running_
};

MHD_Result collect(void *cls, MHD_ValueKind, const char *key, const char *value) {
    (*static_cast<std::map<std::string, std::string> *>(cls))[key] = value != nullptr ? value : "";
    return MHD_YES;
}

MHD_Result collect_lower(void *cls, MHD_ValueKind kind, const char *key, const char *value) {
    std::string k(key);
    for (char &c : k) c = char(tolower(static_cast<unsigned char>(c)));
    return collect(cls, kind, k.c_str(), value);
}

std::map<std::string, std::string> values(MHD_Connection *c, MHD_ValueKind kind) {
    std::map<std::string, std::string> m;
    MHD_get_connection_values(c, kind, kind == MHD_HEADER_KIND ? collect_lower : collect, &m);
    return m;
}

MHD_Result answer(MHD_Connection *c, const HttpResponse &r, bool close) {
    MHD_Response *resp =
        MHD_create_response_from_buffer(r.body.size(), const_cast<char *>(r.body.data()), MHD_RESPMEM_MUST_COPY);
    if (resp == nullptr) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r.type.c_str());
    for (auto &[k, v] : r.headers) MHD_add_response_header(resp, k.c_str(), v.c_str());
    if (close) MHD_add_response_header(resp, "Connection", "close");
    MHD_Result ok = MHD_queue_response(c, unsigned(r.status), resp);
    MHD_destroy_response(resp);
    return ok;
}

bool over_cap(MHD_Connection *c) {
    const MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i != nullptr && i->socket_context != nullptr;
}

size_t declared_length(MHD_Connection *c) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    return v == nullptr ? 0 : size_t(strtoull(v, nullptr, 10));
}

void log_mhd(void *, const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    std::string line(buf);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    spdlog::debug("http: {}", line);
}

} // namespace

struct HttpServer::Access {
    static void notify(void *cls, MHD_Connection *, void **socket_context, MHD_ConnectionNotificationCode code) {
        auto *s = static_cast<HttpServer *>(cls);
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
            unsigned n = ++s->open_;
            *socket_context = n > s->limits_.max_connections ? s : nullptr; // non-null: over the cap
        } else {
            --s->open_;
        }
    }

    static void done(void *, MHD_Connection *, void **con_cls, MHD_RequestTerminationCode) {
        auto *p = static_cast<Pending *>(*con_cls);
        if (p != nullptr && p->running != nullptr) --p->running->running_;
        delete p;
        *con_cls = nullptr;
    }

    static MHD_Result first(HttpServer *s, MHD_Connection *c, const char *url, const char *method, void **con_cls) {
        if (over_cap(c))
            return answer(c, json_error(503, "SHMQ_ECLIENTS", "too many connections; try again"), true);
        if (declared_length(c) > s->limits_.max_body)
            return answer(c, json_error(413, "SHMQ_ETOOBIG", "request body larger than " +
                                                                 std::to_string(s->limits_.max_body) + " bytes"),
                          true);
        auto p = std::make_unique<Pending>();
        p->req.method = method;
        p->req.path = url;
        *con_cls = p.release();
        return MHD_YES;
    }

    static MHD_Result access(void *cls, MHD_Connection *c, const char *url, const char *method, const char *,
                             const char *data, size_t *size, void **con_cls) {
        auto *s = static_cast<HttpServer *>(cls);
        if (*con_cls == nullptr) return first(s, c, url, method, con_cls);
        auto *p = static_cast<Pending *>(*con_cls);
        if (*size != 0) {
            if (p->req.body.size() + *size > s->limits_.max_body) p->too_big = true; // chunked: no length up front
            else p->req.body.append(data, *size);
            *size = 0;
            return MHD_YES;
        }
        if (p->too_big)
            return answer(c, json_error(413, "SHMQ_ETOOBIG", "request body larger than " +
                                                                 std::to_string(s->limits_.max_body) + " bytes"),
                          true);
        p->req.query = values(c, MHD_GET_ARGUMENT_KIND);
        p->req.headers = values(c, MHD_HEADER_KIND);
        ++s->running_; // until done(): the answer is sent or the connection failed
        p->running = s;
        return answer(c, s->handler_(p->req), false);
    }
};

int HttpServer::start(int listen_fd, HttpHandler handler, HttpLimits limits, std::string *why) {
    handler_ = std::move(handler);
    limits_ = limits;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    mhd_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Access::access, this,               //
                            MHD_OPTION_LISTEN_SOCKET, listen_fd,                             //
                            MHD_OPTION_CONNECTION_LIMIT, 2 * limits.max_connections,         //
                            MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_s,            //
                            MHD_OPTION_NOTIFY_CONNECTION, &Access::notify, this,             //
                            MHD_OPTION_NOTIFY_COMPLETED, &Access::done, nullptr,             //
                            MHD_OPTION_EXTERNAL_LOGGER, &log_mhd, nullptr,                   //
                            MHD_OPTION_END);
    if (mhd_ == nullptr) {
        close(listen_fd);
        *why = "libmicrohttpd could not start";
        return EIO;
    }
    return 0;
}

void HttpServer::stop(int grace_ms) {
    if (mhd_ == nullptr) return;
    // No new connections; the socket is ours again, closed at once so that a
    // client connecting now is refused, not left in the backlog unanswered
    // until the grace ends (and then reset).
    int listen_fd = MHD_quiesce_daemon(mhd_);
    if (listen_fd >= 0) close(listen_fd);
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (running_ > 0 && std::chrono::steady_clock::now() < until) poll(nullptr, 0, 10);
    MHD_stop_daemon(mhd_); // closes the connections and joins their threads
    mhd_ = nullptr;
}

int listen_tcp(const std::string &address, int *fd, std::string *bound, std::string *why) {
    Address a;
    if (int rc = parse_address(address, &a, why); rc != 0) return rc;
    *fd = socket(a.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(*fd, reinterpret_cast<sockaddr *>(&a.addr), a.len) != 0 || listen(*fd, 128) != 0) {
        int err = errno;
        *why = "cannot listen on " + address + ": " + strerror(err);
        if (*fd >= 0) close(*fd);
        *fd = -1;
        return err;
    }
    sockaddr_storage got{};
    socklen_t len = sizeof got;
    getsockname(*fd, reinterpret_cast<sockaddr *>(&got), &len);
    *bound = format_address(got);
    return 0;
}

int listen_unix(const std::string &path, mode_t mode, int *fd, std::string *why) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path) {
        *why = "socket path \"" + path + "\" is empty or longer than " + std::to_string(sizeof a.sun_path - 1) +
               " bytes";
        return EINVAL;
    }
    // Bound under a temporary name and renamed once its mode is set, so the
    // socket is never reachable with a wider mode. A stale one left by a dead
    // shmqd is replaced: we hold the instance lock, so no live shmqd serves it.
    std::string tmp = path + ".new";
    if (tmp.size() >= sizeof a.sun_path) tmp = path; // no room for the suffix: bind in place
    memcpy(a.sun_path, tmp.c_str(), tmp.size() + 1);
    unlink(tmp.c_str());
    *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0 || bind(*fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || chmod(tmp.c_str(), mode) != 0 ||
        rename(tmp.c_str(), path.c_str()) != 0 || listen(*fd, 128) != 0) {
        int err = errno;
        *why = "cannot listen on " + path + ": " + strerror(err);
        if (*fd >= 0) close(*fd);
        *fd = -1;
        return err;
    }
    return 0;
}

HttpResponse json_error(int status, const std::string &code, const std::string &message) {
    HttpResponse r;
    r.status = status;
    r.body = nlohmann::json{{"error", code}, {"message", message}}.dump() + "\n";
    return r;
}

} // namespace shmqd
