// strategies.cpp - depth-first, PCT and replay schedulers (strategies.hpp).
#include "strategies.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

namespace explore {

std::string Trace::str() const {
    std::string s;
    for (const Choice &c : made) {
        if (!s.empty()) s += ',';
        s += c.crash ? "x" : std::to_string(c.run);
    }
    return s;
}

bool Trace::parse(const std::string &s, Trace *out) {
    std::stringstream in(s);
    std::string tok;
    while (std::getline(in, tok, ',')) {
        if (tok == "x") out->made.push_back(Choice{-1, true});
        else if (!tok.empty() && tok.find_first_not_of("0123456789") == std::string::npos)
            out->made.push_back(Choice{std::stoi(tok), false});
        else return false;
    }
    return true;
}

void Dfs::begin() {
    depth_ = 0;
    pre_ = crash_ = 0;
    trace.made.clear();
}

bool Dfs::next() {
    while (!stack_.empty()) {
        Frame &f = stack_.back();
        if (++f.idx < f.options.size()) return true;
        stack_.pop_back();
    }
    return false;
}

Choice Dfs::choose(const Point &pt) {
    if (depth_ == stack_.size()) {
        Frame f;
        const int cost = pt.current_enabled ? 1 : 0;
        if (pt.current_enabled) f.options.push_back(Option{Choice{pt.current, false}, 0, 0});
        for (int e : pt.enabled)
            if (e != pt.current && (cost == 0 || pre_ < max_pre_)) f.options.push_back(Option{Choice{e, false}, cost, 0});
        if (pt.may_crash && crash_ < max_crash_) f.options.push_back(Option{Choice{-1, true}, 0, 1});
        stack_.push_back(std::move(f));
    }
    const Option &o = stack_[depth_].options[stack_[depth_].idx];
    ++depth_;
    pre_ += o.preempt;
    crash_ += o.crash;
    return record(o.c);
}

Pct::Pct(uint64_t seed, int depth, uint64_t expected_steps, double crash_chance, int kills) : rng_(seed) {
    for (int i = 0; i < depth; ++i) change_at_.push_back(rng_() % std::max<uint64_t>(expected_steps, 1));
    for (int k = 0; k < kills; ++k)
        if (std::uniform_real_distribution<double>(0, 1)(rng_) < crash_chance)
            crash_at_.push_back(rng_() % std::max<uint64_t>(expected_steps, 1));
    std::sort(crash_at_.begin(), crash_at_.end(), std::greater<>()); // next kill at the back
}

Choice Pct::choose(const Point &pt) {
    ++step_;
    for (int e : pt.enabled)
        while (prio_.size() <= size_t(e)) prio_.push_back(int64_t(rng_() % 1000000) + 1000);
    if (pt.may_crash && !crash_at_.empty() && step_ >= crash_at_.back()) {
        crash_at_.pop_back();
        return record(Choice{-1, true});
    }
    // At a change point the running process drops below everyone.
    if (pt.current >= 0 && std::count(change_at_.begin(), change_at_.end(), step_) > 0)
        prio_[size_t(pt.current)] = next_low_--;
    int best = pt.enabled.front();
    for (int e : pt.enabled)
        if (prio_[size_t(e)] > prio_[size_t(best)]) best = e;
    return record(Choice{best, false});
}

Choice Replay::choose(const Point &pt) {
    if (at_ < want_.made.size()) {
        Choice c = want_.made[at_++];
        bool ok = c.crash ? pt.may_crash : std::count(pt.enabled.begin(), pt.enabled.end(), c.run) > 0;
        if (ok) return record(c);
    }
    return record(Choice{pt.current_enabled ? pt.current : pt.enabled.front(), false});
}

} // namespace explore
