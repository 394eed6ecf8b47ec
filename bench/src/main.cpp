// main.cpp - shmq_bench: runs the suites, then writes results.json (every figure),
// results.md (tables, ratios, goals) and the gnuplot data files into --out.
// Exits 1 if any measurement failed, so CI notices a broken transport or queue.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "report.hpp"
#include "suites.hpp"

namespace bench {
namespace {

struct Suite {
    const char *name; // for --only
    const char *key;  // in results.json
    Json (*run)(const Config &);
};

const Suite kSuites[] = {
    {"pingpong", "pingpong", suite_pingpong},     {"throughput", "throughput", suite_throughput},
    {"size", "size_curve", suite_size_curve},     {"fixed_rate", "fixed_rate", suite_fixed_rate},
    {"scaling", "scaling", suite_scaling},        {"depth", "depth", suite_depth},
    {"backlog", "backlog", suite_backlog},        {"recovery", "recovery", suite_recovery},
    {"busy", "busy", suite_busy},                 {"topic", "topic", suite_topic},
    {"durability", "durability", suite_durability},
};

void usage() {
    std::puts("usage: shmq_bench [--short] [--out DIR] [--only SUITE,...] [--variant NAME,...]\n"
              "                  [--quiet-wait SECONDS]\n"
              "suites: pingpong throughput size fixed_rate scaling depth backlog recovery busy topic\n"
              "        durability\n"
              "variants: cacheline spsc_ring shmq_spin shmq_default shmq_sleep shmq_spin_zc\n"
              "          shmq_batch boost_mq boost_mq_spin unix_socket pipe posix_mq\n"
              "          shmq_topic shmq_queues (suite topic)\n"
              "          memory disk disk_sync fsync_baseline (suite durability)\n"
              "--short: a quick run (CI); --out: results directory [bench/results]\n"
              "--quiet-wait: before each variant, wait up to this long for other processes\n"
              "              to use < 5% CPU [10, short mode 0; 0 = never wait]");
}

void apply_short_mode(Config &c) {
    c.short_mode = true;
    c.pingpong_rounds = 20000;
    c.warmup_rounds = 2000;
    c.pingpong_budget_s = 2;
    c.throughput_s = 0.2;
    c.throughput_reps = 1;
    c.size_point_s = 0.05;
    c.size_rounds = 500;
    c.scaling_s = 0.1;
    c.depth_iters = 50000;
    c.fixed_rate_s = 0.3;
    c.recovery_trials = 10;
    c.quiet_wait_s = 0; // CI asserts nothing about speed: never wait
}

enum class Parsed { Run, Help, Bad };

Parsed parse(int argc, char **argv, Config &c) {
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        if (a == "--short")
            apply_short_mode(c);
        else if (a == "--out" && has_value)
            c.out_dir = argv[++i];
        else if (a == "--only" && has_value)
            c.only = argv[++i];
        else if (a == "--variant" && has_value)
            c.variant = argv[++i];
        else if (a == "--quiet-wait" && has_value)
            c.quiet_wait_s = std::atof(argv[++i]);
        else if (a == "--help" || a == "-h")
            return Parsed::Help;
        else {
            std::fprintf(stderr, "shmq_bench: bad argument %s\n", a.c_str());
            return Parsed::Bad;
        }
    }
    return Parsed::Run;
}

bool selected(const Config &c, const char *name) {
    if (c.only.empty())
        return true;
    std::string list = "," + c.only + ",";
    return list.find("," + std::string(name) + ",") != std::string::npos;
}

Json config_json(const Config &c) {
    return Json{{"mode", c.short_mode ? "short" : "full"}, {"pingpong_rounds", c.pingpong_rounds},
                {"warmup_rounds", c.warmup_rounds},       {"pingpong_budget_s", c.pingpong_budget_s},
                {"throughput_s", c.throughput_s},
                {"throughput_reps", c.throughput_reps},         {"size_point_s", c.size_point_s},
                {"size_rounds", c.size_rounds},           {"scaling_s", c.scaling_s},
                {"depth_iters", c.depth_iters},           {"fixed_rate_s", c.fixed_rate_s},
                {"fixed_rate_hz", c.fixed_rate_hz},       {"recovery_trials", c.recovery_trials},
                {"quiet_wait_s", c.quiet_wait_s}};
}

void run_suites(const Config &cfg, Json &r) {
    for (const auto &s : kSuites) {
        if (!selected(cfg, s.name))
            continue;
        CpuSnapshot before = CpuSnapshot::take();
        try {
            r[s.key] = s.run(cfg);
        } catch (const std::exception &e) {
            r[s.key] = error_entry(s.name, e);
        }
        r["interference"][s.name] = interference(before, CpuSnapshot::take());
    }
}

void write_file(const std::string &path, const std::string &text) {
    std::ofstream f(path);
    f << text;
    if (!f)
        throw std::runtime_error("cannot write " + path);
}

} // namespace
} // namespace bench

int main(int argc, char **argv) {
    using namespace bench;
    Config cfg;
    Parsed p = parse(argc, argv, cfg);
    if (p != Parsed::Run) {
        usage();
        return p == Parsed::Help ? 0 : 2;
    }
    cleanup_install_signal_handlers();
    std::filesystem::create_directories(cfg.out_dir);
    Json r;
    r["machine"] = describe_machine();
    std::fprintf(stderr, "shmq_bench: hardware counters per message: %s\n",
                 r["machine"]["hw_counters"].get<std::string>().c_str());
    r["config"] = config_json(cfg);
    run_suites(cfg, r);
    r["machine"]["load_average_at_end"] = machine_load_average();
    r["goals"] = evaluate_goals(r);
    r["errors"] = error_count();
    write_file(cfg.out_dir + "/results.json", r.dump(1) + "\n");
    write_plot_data(r, cfg.out_dir);
    write_file(cfg.out_dir + "/results.md", render_markdown(r));
    std::fprintf(stderr, "shmq_bench: wrote %s/results.{json,md}, %d error(s)\n", cfg.out_dir.c_str(),
                 error_count());
    return error_count() ? 1 : 0;
}
