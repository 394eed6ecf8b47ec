// report.hpp - turning the results JSON into what people read: the goals of
// issue 3 checked against the figures, a Markdown report with ratios, and the
// data files that plot.gp draws.
#pragma once

#include <string>

#include "harness.hpp"

namespace bench {

Json describe_machine();
// /proc/loadavg's 1, 5 and 15 minute figures, e.g. "0.12 0.40 0.33".
std::string machine_load_average();

// [{goal, target, measured, value, met}], one per goal; met is null when the
// figure is missing (suite skipped or failed).
Json evaluate_goals(const Json &results);

std::string render_markdown(const Json &results);

// Writes pingpong_pct.dat, fixed_rate_pct.dat and size_curve.dat into `dir`
// (gnuplot blocks, one per transport).
void write_plot_data(const Json &results, const std::string &dir);

// "12%": other processes' CPU share while a variant ran, or "-".
std::string other_load(const Json &variant);

// Figure lookup: the number at results[a][b][c], or NaN if absent.
double figure(const Json &results, const std::string &a, const std::string &b,
              const std::string &c);

} // namespace bench
