// ctl.cpp - shared pieces of shmqctl (ctl.hpp).
#include "ctl.hpp"

#include "config.hpp"

#include <algorithm>
#include <cstdio>
#include <dirent.h>
#include <iostream>

namespace shmqctl {

static std::string hint_for(int e) {
    switch (e) {
    case SHMQ_ENOTFOUND: return " Run `shmqctl list` to see the queues, or `shmqctl create NAME`.";
    case SHMQ_EPERM: return " Run as the queue's owner (or a member of its group).";
    case SHMQ_EVERSION: return " Use the shmqctl of the shmq version that made it, or recreate the queue.";
    case SHMQ_ECORRUPT: return " Run `shmqctl doctor`; delete and recreate the queue if it stays corrupt.";
    case SHMQ_EBADNAME: return " Names are 1-64 of [A-Za-z0-9._-].";
    case SHMQ_ECLIENTS: return " Too many clients: run `shmqctl recover NAME` to free dead ones.";
    default: return "";
    }
}

int fail(const std::string &what, int e) {
    std::cerr << "shmqctl: " << what << ": " << shmq_strerror(e) << "." << hint_for(e) << "\n";
    if (e == SHMQ_ENOTFOUND) return kNotFound;
    if (e == SHMQ_EBADNAME || e == SHMQ_EINVAL) return kUsage;
    if (e == SHMQ_EPERM || e == SHMQ_EVERSION || e == SHMQ_ECORRUPT) return kCannotOpen;
    if (e == SHMQ_EEMPTY || e == SHMQ_ETIMEDOUT) return kNothing;
    return kFailed;
}

int fail_msg(const std::string &message, int code) {
    std::cerr << "shmqctl: " << message << "\n";
    return code;
}

int open_attached(const std::string &name, QueuePtr *out) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq::detail::Queue *q = nullptr;
    int rc = shmq::detail::Queue::open(name.c_str(), &o, &q);
    out->reset(q);
    return rc;
}

int open_observer(const std::string &name, QueuePtr *out) {
    shmq::detail::Queue *q = nullptr;
    int rc = shmq::detail::Queue::inspect(name.c_str(), &q);
    out->reset(q);
    return rc;
}

static int open_group(const std::string &what, const std::string &topic, const std::string &group,
                      QueuePtr *out) {
    shmq_options o;
    shmq_options_init(&o);
    o.prefetch = 0;
    shmq::detail::Queue *q = nullptr;
    int rc = shmq::detail::Queue::open_group(topic.c_str(), group.c_str(), &o, &q);
    out->reset(q);
    if (rc == SHMQ_OK) return kOk;
    if (shmq_name_check(topic.c_str()) != SHMQ_OK) return fail(what, SHMQ_EBADNAME);
    if (rc == SHMQ_EBADNAME) return fail_msg(what + ": bad group name '" + group + "'." + hint_for(rc), kUsage);
    if (rc == SHMQ_EINVAL)
        return fail_msg(what + ": " + topic + " is a queue, not a topic: --group is only for topics", kUsage);
    QueuePtr t;
    if (rc == SHMQ_ENOTFOUND && open_observer(topic, &t) == SHMQ_OK)
        return fail_msg(what + ": topic " + topic + " has no group '" + group + "'. Bind it with `shmqctl group add " +
                            topic + " " + group + "`.", kNotFound);
    return fail(what, rc);
}

int open_target(const std::string &what, const std::string &name, const std::string &group, bool attach,
                QueuePtr *out) {
    if (!group.empty()) return open_group(what, name, group, out);
    int rc = attach ? open_attached(name, out) : open_observer(name, out);
    if (rc != SHMQ_OK) return fail(what, rc);
    if ((*out)->topic())
        return fail_msg(what + ": " + name + " is a topic, whose handle only publishes: name one of its consumer "
                        "groups with --group GROUP", kUsage);
    return kOk;
}

std::vector<std::string> queue_names() {
    std::vector<std::string> names;
    DIR *d = opendir(shmq::detail::segment_dir().c_str());
    if (d == nullptr) return names;
    while (dirent *e = readdir(d)) {
        std::string f = e->d_name;
        if (f.rfind("shmq.", 0) == 0 && shmq_name_check(f.c_str() + 5) == SHMQ_OK) names.push_back(f.substr(5));
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::string render_payload(const void *data, size_t len, Output::Payload how) {
    const auto *p = static_cast<const unsigned char *>(data);
    if (how == Output::Payload::Raw) return std::string(reinterpret_cast<const char *>(p), len);
    std::string out;
    char buf[8];
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = p[i];
        if (how == Output::Payload::Hex) {
            snprintf(buf, sizeof buf, "%02x", c);
            out += buf;
        } else if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out;
}

std::string format_age(int64_t ns) {
    char buf[32];
    if (ns <= 0) return "-";
    if (ns < 1000000000LL) snprintf(buf, sizeof buf, "%lldms", (long long)(ns / 1000000));
    else if (ns < 120 * 1000000000LL) snprintf(buf, sizeof buf, "%.1fs", double(ns) / 1e9);
    else snprintf(buf, sizeof buf, "%lldm", (long long)(ns / 60000000000LL));
    return buf;
}

void print_table(const std::vector<std::string> &header, const std::vector<std::vector<std::string>> &rows) {
    std::vector<size_t> width(header.size());
    for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
    for (auto &r : rows)
        for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
    auto line = [&](const std::vector<std::string> &cells) {
        std::string s;
        for (size_t c = 0; c < cells.size(); ++c) {
            s += cells[c];
            if (c + 1 < cells.size()) s += std::string(width[c] - cells[c].size() + 2, ' ');
        }
        std::cout << s << "\n";
    };
    line(header);
    for (auto &r : rows) line(r);
}

void print_json(const nlohmann::json &j) { std::cout << j.dump(2) << "\n"; }

void print_result(const Output &out, const nlohmann::json &j, const std::string &text) {
    if (out.json) print_json(j);
    else std::cout << text << "\n";
}

int config_durability(const std::string &config, const std::string &queue, std::string *out) {
    out->clear();
    if (config.empty()) return kOk;
    shmqd::ConfigResult r = shmqd::load_config(config);
    if (!r.ok()) return fail_msg(r.error, kUsage);
    *out = shmqd::durability_name(shmqd::queue_durability(r.config, queue));
    return kOk;
}

} // namespace shmqctl
