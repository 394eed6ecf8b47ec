// cmd_bridge.cpp - `shmqctl bridge`: the state of shmq-bridge's bindings,
// read from the Prometheus status file the bridge rewrites atomically every
// interval (its `[status] file`). A file rather than a socket: the bridge
// already writes it for node_exporter, so there is no second protocol, and
// its age tells whether the bridge still runs.
#include "cmd.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

namespace shmqctl {

namespace {

constexpr double kStaleS = 10; // older than this: the bridge is probably not running

struct BindingState {
    std::string direction;
    std::map<std::string, double> values; // metric name without "shmq_bridge_"
};

std::string label(const std::string &labels, const std::string &key) {
    size_t at = labels.find(key + "=\"");
    if (at == std::string::npos) return "";
    at += key.size() + 2;
    return labels.substr(at, labels.find('"', at) - at);
}

// `name{binding="..",direction=".."} value` lines; false if none parsed.
bool parse_status(std::istream &in, std::map<std::string, BindingState> *out) {
    for (std::string line; std::getline(in, line);) {
        size_t open = line.find('{'), close = line.find("} ");
        if (line.empty() || line[0] == '#' || open == std::string::npos || close == std::string::npos) continue;
        std::string name = line.substr(0, open), labels = line.substr(open + 1, close - open - 1);
        if (name.rfind("shmq_bridge_", 0) != 0) continue;
        BindingState &b = (*out)[label(labels, "binding")];
        b.direction = label(labels, "direction");
        b.values[name.substr(12)] = std::strtod(line.c_str() + close + 2, nullptr);
    }
    return !out->empty();
}

std::string num(const BindingState &b, const char *name) {
    auto it = b.values.find(name);
    if (it == b.values.end()) return "-";
    double v = it->second;
    if (v > -9e18 && v < 9e18 && v == double(int64_t(v))) return std::to_string(int64_t(v)); // counters: every digit, no exponent
    std::ostringstream s;
    s << v;
    return s.str();
}

std::vector<std::string> row(const std::string &name, const BindingState &b) {
    bool out = b.direction == "out";
    return {name,
            b.direction,
            num(b, "connected") != "1" ? "no" : num(b, "broker_blocked") == "1" ? "blocked" : "yes",
            num(b, "reconnects_total"),
            num(b, "broker_errors_total"),
            num(b, out ? "messages_published_total" : "messages_received_total"),
            num(b, out ? "messages_confirmed_total" : "messages_acked_broker_total"),
            out ? num(b, "messages_inflight") : "-",
            num(b, out ? "local_backlog_messages" : "broker_backlog_messages")};
}

nlohmann::json to_json(const std::string &path, double age_s, const std::map<std::string, BindingState> &all) {
    nlohmann::json bindings = nlohmann::json::array();
    for (const auto &[name, b] : all) {
        nlohmann::json j = {{"binding", name}, {"direction", b.direction}};
        for (const auto &[k, v] : b.values) j[k] = v;
        bindings.push_back(j);
    }
    return {{"file", path}, {"age_seconds", age_s}, {"stale", age_s > kStaleS}, {"bindings", bindings}};
}

} // namespace

int cmd_bridge(const Output &out, const std::string &path) {
    std::ifstream in(path);
    struct stat st{};
    if (!in || stat(path.c_str(), &st) != 0)
        return fail_msg("bridge: cannot read " + path + ": " + std::strerror(errno) +
                            ". shmq-bridge writes it when its config sets [status] file (--status-file says where)",
                        kFailed);
    std::map<std::string, BindingState> all;
    if (!parse_status(in, &all)) return fail_msg("bridge: " + path + " holds no shmq_bridge_ metrics", kFailed);
    double age_s = std::difftime(std::time(nullptr), st.st_mtime);
    if (out.json) {
        print_json(to_json(path, age_s, all));
        return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto &[name, b] : all) rows.push_back(row(name, b));
    print_table({"binding", "dir", "connected", "reconnects", "errors", "forwarded", "settled", "inflight", "backlog"}, rows);
    std::cout << path << " written " << age_s << " s ago"
              << (age_s > kStaleS ? " (stale: is shmq-bridge running?)" : "") << "\n";
    return kOk;
}

} // namespace shmqctl
