// A console reporter that ends a run with the ratios the project reports: each variant's figure over its baseline's,
// both measured in the same run (the median where the run was repeated). On a shared, noisy machine a ratio of two
// figures taken side by side says more than either figure alone.
//
// A rule names a scenario ("hot_path"), the baseline variant ("reference_mutex_condvar") and a counter
// ("items_per_second"): every other "<variant>/<scenario>" that reported that counter is divided by
// "<baseline>/<scenario>"'s.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__)
#include <unistd.h>
#endif

namespace bench {

struct ratio_rule {
  std::string scenario;
  std::string baseline;
  std::string counter;
};

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  ratio_reporter(std::vector<ratio_rule> rules, OutputOptions options)
      : benchmark::ConsoleReporter(options), rules_(std::move(rules)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      figures& f = figures_[run.run_name.function_name];
      if (run.run_type == Run::RT_Iteration)
        f.runs.push_back(run.counters);
      else if (run.aggregate_name == "median")
        f.median = run.counters;
    }
  }

  void Finalize() override {
    std::vector<std::string> lines;
    for (const ratio_rule& rule : rules_) {
      const auto base = figures_.find(rule.baseline + "/" + rule.scenario);
      if (base == figures_.end()) continue;
      const std::optional<double> denominator = value(base->second, rule.counter);
      if (!denominator || *denominator == 0) continue;
      for (const auto& [name, f] : figures_) {
        const std::size_t slash = name.rfind('/');
        if (slash == std::string::npos || name.compare(slash + 1, std::string::npos, rule.scenario) != 0 ||
            name == base->first)
          continue;
        const std::optional<double> numerator = value(f, rule.counter);
        if (!numerator) continue;
        char line[256];
        std::snprintf(line, sizeof line, "  %-20s %-18s %-36s %7.2fx  %s (%s / %s)", rule.scenario.c_str(),
                      rule.counter.c_str(), name.substr(0, slash).c_str(), *numerator / *denominator,
                      rule.baseline.c_str(), human(*numerator).c_str(), human(*denominator).c_str());
        lines.emplace_back(line);
      }
    }
    if (!lines.empty()) {
      std::ostream& out = GetOutputStream();
      out << "\nRatios in this run (variant / baseline; medians where repeated):\n";
      for (const std::string& line : lines) out << line << '\n';
    }
    benchmark::ConsoleReporter::Finalize();
  }

 private:
  struct figures {
    std::optional<benchmark::UserCounters> median;
    std::vector<benchmark::UserCounters> runs;
  };

  // The median aggregate's counter if the run was repeated with aggregates, else the median of the runs' values.
  static std::optional<double> value(const figures& f, const std::string& counter) {
    if (f.median) {
      const auto it = f.median->find(counter);
      return it == f.median->end() ? std::nullopt : std::optional<double>(it->second.value);
    }
    std::vector<double> values;
    for (const benchmark::UserCounters& c : f.runs)
      if (const auto it = c.find(counter); it != c.end()) values.push_back(it->second.value);
    if (values.empty()) return std::nullopt;
    const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), middle, values.end());
    if (values.size() % 2 == 1) return *middle;
    return (*middle + *std::max_element(values.begin(), middle)) / 2;
  }

  static std::string human(double v) {
    char text[32];
    if (std::fabs(v) >= 1e6)
      std::snprintf(text, sizeof text, "%.3gM", v / 1e6);
    else if (std::fabs(v) >= 1e3)
      std::snprintf(text, sizeof text, "%.3gk", v / 1e3);
    else
      std::snprintf(text, sizeof text, "%.3g", v);
    return text;
  }

  std::vector<ratio_rule> rules_;
  std::map<std::string, figures> figures_;
};

// The reporter for this command line (read before benchmark::Initialize, which removes the flags it knows): null
// when it asks for another --benchmark_format, so that Google Benchmark's own reporter runs, without ratios. Color
// and tabular counters follow the same flags as Google Benchmark's console reporter.
inline std::unique_ptr<ratio_reporter> make_ratio_reporter(int argc, char** argv, std::vector<ratio_rule> rules) {
  auto flag = [&](const std::string& name) {
    const std::string bare = "--" + name, with_value = bare + "=";
    std::optional<std::string> found;  // the last one wins, as in Google Benchmark
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == bare)
        found = "true";
      else if (arg.rfind(with_value, 0) == 0)
        found = arg.substr(with_value.size());
    }
    return found;
  };
  auto truthy = [](const std::string& v) { return v == "true" || v == "yes" || v == "1" || v == "on"; };
  if (const auto format = flag("benchmark_format"); format && *format != "console") return nullptr;
  int options = benchmark::ConsoleReporter::OO_None;
  const auto color = flag("benchmark_color");
  bool colored = false;
#if defined(__unix__)
  colored = ::isatty(STDOUT_FILENO) != 0;
#endif
  if (color && *color != "auto") colored = truthy(*color);
  if (colored) options |= benchmark::ConsoleReporter::OO_Color;
  if (const auto tabular = flag("benchmark_counters_tabular"); tabular && truthy(*tabular))
    options |= benchmark::ConsoleReporter::OO_Tabular;
  return std::make_unique<ratio_reporter>(std::move(rules),
                                          static_cast<benchmark::ConsoleReporter::OutputOptions>(options));
}

}  // namespace bench
