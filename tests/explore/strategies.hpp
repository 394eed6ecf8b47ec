// strategies.hpp - how the exploration harness picks interleavings.
//
// Dfs: every schedule with at most `preemptions` preemptions (a switch away
// from a process that could go on) and at most `crashes` kills, depth first,
// by re-running the scenario from scratch with one more choice changed each
// time (stateless, as CHESS does). Switching away from a process that blocks,
// finishes or spins is free. Pct: randomized priorities with `depth` change
// points (Burckhardt et al.'s PCT), plus a kill at a random step; reproducible
// from its seed. Replay: follow a printed trace exactly.
#pragma once

#include "sim.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace explore {

// Every choice made in one execution, printable and replayable.
struct Trace {
    std::vector<Choice> made;
    std::string str() const;
    static bool parse(const std::string &s, Trace *out);
};

class Recording : public Scheduler {
public:
    Trace trace;
    Choice record(Choice c) {
        trace.made.push_back(c);
        return c;
    }
};

class Dfs : public Recording {
public:
    Dfs(int preemptions, int crashes) : max_pre_(preemptions), max_crash_(crashes) {}
    void begin(); // before each execution
    bool next();  // after it: false when every schedule was run
    Choice choose(const Point &pt) override;

private:
    struct Option {
        Choice c;
        int preempt, crash;
    };
    struct Frame {
        std::vector<Option> options;
        size_t idx = 0;
    };
    std::vector<Frame> stack_;
    size_t depth_ = 0;
    int pre_ = 0, crash_ = 0;
    int max_pre_, max_crash_;
};

class Pct : public Recording {
public:
    // Up to `kills` kills, each at a random step with probability crash_chance.
    Pct(uint64_t seed, int depth, uint64_t expected_steps, double crash_chance, int kills = 1);
    Choice choose(const Point &pt) override;

private:
    std::mt19937_64 rng_;
    std::vector<uint64_t> change_at_;
    std::vector<int64_t> prio_;
    uint64_t step_ = 0;
    std::vector<uint64_t> crash_at_;
    int next_low_ = -1;
};

class Replay : public Recording {
public:
    explicit Replay(Trace t) : want_(std::move(t)) {}
    Choice choose(const Point &pt) override;

private:
    Trace want_;
    size_t at_ = 0;
};

} // namespace explore
