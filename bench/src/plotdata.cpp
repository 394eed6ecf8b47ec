// plotdata.cpp - gnuplot input written next to results.json: one data block per
// transport (blocks separated by two blank lines, a quoted title first), so that
// plot.gp can draw every transport with `index i ... title columnheader(1)`.
#include <cmath>
#include <fstream>

#include "report.hpp"

namespace bench {

namespace {

// Percentile curves: x = 1 / (1 - p) (the maximum sits at x = samples), y in µs.
void write_percentiles(const Json &suite, const std::string &path) {
    std::ofstream f(path);
    for (const auto &[name, j] : suite.items()) {
        if (!j.contains("curve"))
            continue;
        double count = j["count"].get<double>();
        f << "\"" << name << "\" \"x\" \"us\"\n";
        for (const auto &pt : j["curve"]) {
            double p = pt[0].get<double>() / 100;
            double x = p >= 1 ? count : 1 / (1 - p);
            f << x << " " << pt[1].get<double>() / 1e3 << "\n";
        }
        f << "\n\n";
    }
}

// Size curve: size in bytes, MB/s (NaN for zero-copy, which moves no payload),
// round-trip p50 in µs, messages/s.
void write_sizes(const Json &suite, const std::string &path) {
    std::ofstream f(path);
    for (const auto &[name, points] : suite.items()) {
        if (!points.is_array() || points.empty())
            continue;
        bool nominal = name.ends_with("_zc");
        f << "\"" << name << "\" \"MBps\" \"rtt_us\" \"msgs\"\n";
        for (const auto &p : points) {
            double mbps = p["bytes_per_s"].get<double>() / 1e6;
            f << p["size"] << " " << (nominal ? NAN : mbps) << " "
              << p["rtt_p50_ns"].get<double>() / 1e3 << " " << p["msgs_per_s"].get<double>() << "\n";
        }
        f << "\n\n";
    }
}

} // namespace

void write_plot_data(const Json &r, const std::string &dir) {
    if (r.contains("pingpong"))
        write_percentiles(r["pingpong"], dir + "/pingpong_pct.dat");
    if (r.contains("fixed_rate"))
        write_percentiles(r["fixed_rate"], dir + "/fixed_rate_pct.dat");
    if (r.contains("size_curve"))
        write_sizes(r["size_curve"], dir + "/size_curve.dat");
}

} // namespace bench
