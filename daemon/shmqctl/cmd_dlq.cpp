// cmd_dlq.cpp - `shmqctl dlq list|show|redrive|purge`: the dead-letter store
// of a queue, read straight from shmqd's files (list and show work while the
// daemon runs; redrive goes through it when it runs, see ops.hpp).
#include "cmd.hpp"

#include "config.hpp"
#include "headers_json.hpp"
#include "ops.hpp"
#include "store/dead_letters.hpp"
#include "store/fsutil.hpp"

#include <iostream>

namespace shmqctl {

namespace store = shmq::store;

std::string dead_letter_dir(const std::string &config, const std::string &override_dir) {
    if (!override_dir.empty()) return override_dir;
    if (config.empty()) return shmqd::default_config().daemon.dead_letter_dir;
    shmqd::ConfigResult r = shmqd::load_config(config);
    if (!r.ok()) {
        std::cerr << "shmqctl: " << r.error << "\n";
        return "";
    }
    return r.config.daemon.dead_letter_dir;
}

int check_group_spelling(const std::string &sub, const std::string &name) {
    QueuePtr q;
    if (open_observer(name, &q) == SHMQ_OK) return kOk; // a queue or topic of that very name
    for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
        std::string topic = name.substr(0, dot), group = name.substr(dot + 1);
        QueuePtr t;
        if (shmq_name_check(topic.c_str()) != SHMQ_OK || open_observer(topic, &t) != SHMQ_OK || !t->topic()) continue;
        for (uint32_t k = 0; k < t->layout().groups; ++k)
            if (t->lane_name(k, true) == group)
                return fail_msg("dlq " + sub + " " + name + ": " + name + " is group " + group + " of topic " + topic +
                                    ": type `shmqctl dlq " + sub + " " + topic + " --group " + group + "`",
                                kUsage);
    }
    return kOk;
}

// With `missing`, a queue without a store file sets *missing and returns kOk.
static int open_store(const std::string &dir, const std::string &queue, bool read_only, store::DeadLetters *dl,
                      bool *missing = nullptr) {
    if (shmq_name_check(queue.c_str()) != SHMQ_OK) return fail("dlq " + queue, SHMQ_EBADNAME);
    store::Fd fd;
    std::string why;
    if (dir.empty() || store::open_dir(dir, false, &fd, &why) != 0)
        return fail_msg("dlq: dead-letter directory " + dir + ": " + why + ". Pass --config or --dlq-dir.", kNotFound);
    store::StoreOptions o;
    o.read_only = read_only;
    store::OpenReport rep;
    int rc = dl->open(fd.get(), queue, o, &rep);
    if (rc == ENOENT && missing != nullptr) {
        *missing = true;
        return kOk;
    }
    if (rc == ENOENT) return fail_msg("dlq: no dead letters recorded for " + queue + " in " + dir, kNotFound);
    if (rc != 0) return fail_msg("dlq: " + dl->error(), kCannotOpen);
    for (auto &p : rep.problems) std::cerr << "shmqctl: dlq: " << p << "\n";
    return kOk;
}

static nlohmann::json meta_json(const store::DeadLetterMeta &m, uint64_t size) {
    return {{"id", m.id},
            {"attempts", m.attempts},
            {"reason", store::dead_reason_name(m.reason)},
            {"size", size},
            {"first_enqueue_unix_seconds", double(m.first_enqueue_ns) / 1e9},
            {"died_unix_seconds", double(m.died_ns) / 1e9}};
}

namespace {

// Applies a DlqFilter to records in order: matching, then the page.
class Selector {
public:
    explicit Selector(const DlqFilter &f) : f_(f), now_(shmq::detail::real_ns()) {}
    bool matches(const store::DeadLetterMeta &m) {
        if (!f_.reason.empty() && f_.reason != store::dead_reason_name(m.reason)) return false;
        double age = m.died_ns > 0 && m.died_ns <= now_ ? double(now_ - m.died_ns) / 1e9 : 0;
        if (f_.older_than_s >= 0 && age < f_.older_than_s) return false;
        if (f_.newer_than_s >= 0 && age > f_.newer_than_s) return false;
        return seen_++ >= f_.skip;
    }
    bool full() const { return f_.limit != 0 && seen_ >= f_.skip + f_.limit; }
    int64_t now() const { return now_; }

private:
    const DlqFilter &f_;
    int64_t now_;
    uint64_t seen_ = 0;
};

int check_filter(const DlqFilter &f) {
    for (const char *r : {"", "max_attempts", "rejected", "expired", "invalid", "group_removed", "bridge_rejected"})
        if (f.reason == r) return kOk;
    return fail_msg("dlq: unknown reason '" + f.reason +
                        "'; reasons: max_attempts rejected expired invalid group_removed bridge_rejected",
                    kUsage);
}

} // namespace

int cmd_dlq_list(const Output &out, const std::string &dir, const std::string &queue, const DlqFilter &f) {
    if (int rc = check_filter(f); rc != kOk) return rc;
    store::DeadLetters dl;
    nlohmann::json all = nlohmann::json::array();
    bool none = false;
    if (int rc = open_store(dir, queue, true, &dl, &none); rc != kOk) return rc;
    if (none) { // no store file yet: no dead letters, which is not an error
        print_result(out, all, "no dead letters for " + queue);
        return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    Selector sel(f);
    dl.list([&](const store::DeadLetterInfo &i) {
        if (!sel.matches(i.meta)) return true;
        all.push_back(meta_json(i.meta, i.size));
        int64_t now = sel.now();
        rows.push_back({std::to_string(i.meta.id), std::to_string(i.meta.attempts),
                        store::dead_reason_name(i.meta.reason), std::to_string(i.size),
                        i.meta.died_ns > 0 && i.meta.died_ns <= now ? format_age(now - i.meta.died_ns) + " ago" : "?"});
        return !sel.full();
    });
    if (out.json) print_json(all);
    else print_table({"id", "attempts", "reason", "size", "died"}, rows);
    return kOk;
}

int cmd_dlq_export(const Output &out, const std::string &dir, const std::string &queue, const DlqFilter &f) {
    if (int rc = check_filter(f); rc != kOk) return rc;
    store::DeadLetters dl;
    bool none = false;
    if (int rc = open_store(dir, queue, true, &dl, &none); rc != kOk || none) return rc;
    Selector sel(f);
    Output::Payload how = out.payload == Output::Payload::Hex ? Output::Payload::Hex : Output::Payload::Escaped;
    dl.each([&](const store::DeadLetterView &v) {
        if (!sel.matches(v.meta)) return true;
        nlohmann::json j = meta_json(v.meta, v.payload.size());
        j["queue"] = queue;
        j["encoding"] = how == Output::Payload::Hex ? "hex" : "escaped";
        j["data"] = render_payload(v.payload.data(), v.payload.size(), how);
        j["headers"] = shmqd::headers_json(v.headers.data(), v.headers.size());
        std::cout << j.dump() << "\n";
        return !sel.full();
    });
    return kOk;
}

int cmd_dlq_show(const Output &out, const std::string &dir, const std::string &queue, uint64_t id) {
    store::DeadLetters dl;
    if (int rc = open_store(dir, queue, true, &dl); rc != kOk) return rc;
    store::DeadLetter d;
    if (dl.show(id, &d) != 0) return fail_msg("dlq show: no dead letter " + std::to_string(id) + " in " + queue, kNotFound);
    std::string shown = render_payload(d.payload.data(), d.payload.size(), out.payload);
    nlohmann::json j = meta_json(d.meta, d.payload.size());
    j["data"] = shown;
    j["headers"] = shmqd::headers_json(d.headers.data(), d.headers.size());
    if (out.json) print_json(j);
    else if (out.payload == Output::Payload::Raw) std::cout << shown;
    else for (auto &[k, v] : j.items()) std::cout << k << ": " << (v.is_string() ? std::string(v) : v.dump()) << "\n";
    return kOk;
}

int cmd_dlq_purge(const Output &out, const std::string &dir, const std::string &queue) {
    if (shmq_name_check(queue.c_str()) != SHMQ_OK) return fail("dlq purge " + queue, SHMQ_EBADNAME);
    if (dir.empty()) return fail_msg("dlq purge: no dead-letter directory. Pass --config or --dlq-dir.", kNotFound);
    shmqd::ops::RedriveOptions o;
    o.queue = queue;
    o.dead_letter_dir = dir;
    o.timeout_ms = 10000;
    shmqd::ops::RedriveReport rep;
    int rc = shmqd::ops::purge(o, &rep);
    if (rc != 0) return fail_msg("dlq purge: " + rep.error, rc == ENOENT ? kNotFound : kFailed);
    nlohmann::json j = {{"queue", queue}, {"via_daemon", rep.via_daemon},
                        {"purged", rep.via_daemon ? nlohmann::json(nullptr) : nlohmann::json(rep.sent)}};
    print_result(out, j, rep.via_daemon ? "purged by shmqd: every dead letter of " + queue
                                        : "purged " + std::to_string(rep.sent) + " dead letters of " + queue);
    return kOk;
}

int cmd_dlq_redrive(const Output &out, const std::string &dir, const std::string &queue, const RedriveArgs &r) {
    if (shmq_name_check(queue.c_str()) != SHMQ_OK) return fail("dlq redrive " + queue, SHMQ_EBADNAME);
    if (!r.to.empty() && shmq_name_check(r.to.c_str()) != SHMQ_OK) return fail("dlq redrive --to " + r.to, SHMQ_EBADNAME);
    shmqd::ops::RedriveOptions o;
    o.queue = queue;
    o.dead_letter_dir = dir;
    o.ids = r.ids;
    o.rate = r.rate;
    o.to = r.to;
    o.topic = r.topic;
    o.group = r.group;
    o.wait = !r.no_wait;
    o.timeout_ms = int64_t(r.timeout_s * 1000);
    shmqd::ops::RedriveReport rep;
    int rc = shmqd::ops::redrive(o, &rep);
    if (rc == ETIMEDOUT && rep.via_daemon)
        return fail_msg("dlq redrive: " + rep.error + "; follow it with `shmqctl dlq status " + queue + "`", kFailed);
    if (rc != 0) return fail_msg("dlq redrive: " + rep.error, rc == ENOENT ? kNotFound : kFailed);
    std::string into = r.to.empty() ? queue : r.to;
    nlohmann::json j = {{"queue", queue}, {"into", into}, {"via_daemon", rep.via_daemon}, {"finished", rep.finished},
                        {"sent", rep.via_daemon ? nlohmann::json(nullptr) : nlohmann::json(rep.sent)},
                        {"kept", rep.kept}};
    std::string text = rep.via_daemon ? std::string("redrive handed to shmqd") +
                                            (rep.finished ? ": done" : ": in progress (see `shmqctl dlq status " + queue + "`)")
                                      : "redriven " + std::to_string(rep.sent) + " dead letters into " + into +
                                            (rep.kept ? ", kept " + std::to_string(rep.kept) + " (larger than a slot)" : "");
    print_result(out, j, text);
    return kOk;
}

int cmd_dlq_status(const Output &out, const std::string &dir, const std::string &queue) {
    if (shmq_name_check(queue.c_str()) != SHMQ_OK) return fail("dlq status " + queue, SHMQ_EBADNAME);
    shmqd::ops::RedriveState st;
    std::string why;
    if (int rc = shmqd::ops::redrive_state(dir, queue, &st, &why); rc != 0)
        return fail_msg("dlq status: " + why, rc == ENOENT ? kNotFound : kFailed);
    nlohmann::json j = {{"queue", queue}, {"pending", st.pending}, {"request", nullptr}, {"progress", nullptr}};
    if (st.pending)
        j["request"] = {{"kind", st.request.purge ? "purge" : "redrive"}, {"rate", st.request.rate},
                        {"ids", st.request.ids.empty() ? nlohmann::json("all") : nlohmann::json(st.request.ids)},
                        {"into", st.request.to.empty() ? queue : st.request.to}};
    if (st.have_status)
        j["progress"] = {{"state", st.status.state},         {"sent", st.status.sent},
                         {"kept", st.status.kept},           {"started_unix_seconds", st.status.started_s},
                         {"updated_unix_seconds", st.status.updated_s},
                         {"into", st.status.to.empty() ? queue : st.status.to}, {"error", st.status.error}};
    std::string text = std::string(st.pending ? "a " + std::string(j["request"]["kind"]) + " is pending"
                                              : "no redrive pending");
    if (st.have_status)
        text += "; last redrive: " + st.status.state + ", " + std::to_string(st.status.sent) + " sent, " +
                std::to_string(st.status.kept) + " kept" + (st.status.error.empty() ? "" : " (" + st.status.error + ")");
    print_result(out, j, text);
    return kOk;
}

int cmd_dlq_cancel(const Output &out, const std::string &dir, const std::string &queue) {
    if (shmq_name_check(queue.c_str()) != SHMQ_OK) return fail("dlq cancel " + queue, SHMQ_EBADNAME);
    bool was = false;
    std::string why;
    if (int rc = shmqd::ops::cancel_redrive(dir, queue, &was, &why); rc != 0)
        return fail_msg("dlq cancel: " + why, rc == ENOENT ? kNotFound : kFailed);
    print_result(out, {{"queue", queue}, {"cancelled", was}},
                 was ? "cancelled the pending request of " + queue + " (shmqd stops within a tick or two)"
                     : "nothing pending for " + queue);
    return kOk;
}

} // namespace shmqctl
