// servers.cpp - shmqd's HTTP servers (daemon.hpp): the metrics endpoint and
// the API (api.hpp) on its Unix socket and, if configured, loopback TCP. All
// on http_server.hpp; started after the queues, stopped before them.
#include "daemon.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <spdlog/spdlog.h>

namespace shmqd {

namespace {

// The bearer token for the API over TCP: the file's first line.
int read_token(const std::string &path, std::string *token, std::string *why) {
    std::ifstream in(path);
    if (!in) {
        *why = "cannot read api_token_file " + path + ": " + strerror(errno);
        return errno != 0 ? errno : EIO;
    }
    std::getline(in, *token);
    while (!token->empty() && isspace(static_cast<unsigned char>(token->back()))) token->pop_back();
    if (!token->empty()) return 0;
    *why = "api_token_file " + path + " holds no token (its first line is empty)";
    return EINVAL;
}

} // namespace

HttpLimits Daemon::http_limits() const {
    return {cfg_.daemon.http_max_connections, cfg_.daemon.http_idle_timeout_s, cfg_.daemon.http_max_body};
}

bool Daemon::start_metrics() {
    if (cfg_.daemon.metrics == "off") return true;
    int fd = -1;
    std::string bound, why;
    metrics_ = std::make_unique<HttpServer>();
    if (listen_tcp(cfg_.daemon.metrics, &fd, &bound, &why) != 0 ||
        metrics_->start(fd, [this](const HttpRequest &r) { return serve_metrics(board_, r); }, http_limits(),
                        &why) != 0) {
        spdlog::critical("metrics: {}", why);
        return false;
    }
    spdlog::info("metrics on http://{}/metrics", bound);
    return true;
}

bool Daemon::serve_api(std::unique_ptr<HttpServer> *server, int fd, const std::string &where) {
    std::string why;
    bool tcp = server == &api_tcp_;
    *server = std::make_unique<HttpServer>();
    if ((*server)->start(fd, [this, tcp](const HttpRequest &r) { return api_->handle(r, tcp); }, http_limits(),
                         &why) != 0) {
        spdlog::critical("api: {}", why);
        return false;
    }
    spdlog::info("api on {}", where);
    return true;
}

bool Daemon::start_api() {
    const DaemonConfig &d = cfg_.daemon;
    std::string token, why, bound;
    if (d.api_tcp != "off" && read_token(d.api_token_file, &token, &why) != 0) {
        spdlog::critical("api: {}", why);
        return false;
    }
    api_ = std::make_unique<Api>(board_, token);
    publish_queue_names();
    int fd = -1;
    if (d.api_socket != "off" && (listen_unix(d.api_socket, d.api_socket_mode, &fd, &why) != 0 ||
                                  !serve_api(&api_unix_, fd, "unix:" + d.api_socket))) {
        if (!why.empty()) spdlog::critical("api: {}", why);
        return false;
    }
    if (d.api_tcp != "off" && (listen_tcp(d.api_tcp, &fd, &bound, &why) != 0 ||
                               !serve_api(&api_tcp_, fd, "http://" + bound + "/v1"))) {
        if (!why.empty()) spdlog::critical("api: {}", why);
        return false;
    }
    return true;
}

void Daemon::publish_queue_names() {
    std::map<std::string, Durability> queues;
    std::vector<Flusher::Target> disk;
    for (auto &s : queues_) {
        queues[s->cfg.name] = s->cfg.durability;
        if (s->params.durability == SHMQ_DURABILITY_DISK) disk.push_back({s->cfg.name, s->cfg.flush_ms});
    }
    if (api_) api_->set_queues(queues);
    flusher_.set(disk); // the segment's mode rules: a queue created DISK is flushed whatever the config says now
}

} // namespace shmqd
