// bench::ratio_reporter: which figures it divides, and how it picks a figure from repeated runs.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "ratio_report.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace {

using Run = benchmark::BenchmarkReporter::Run;

Run run_of(const std::string& name, const std::string& counter, double value) {
  Run r;
  r.run_name.function_name = name;
  r.iterations = 1;
  r.counters[counter] = benchmark::Counter(value);
  return r;
}

Run aggregate_of(const std::string& name, const std::string& aggregate, const std::string& counter, double value) {
  Run r = run_of(name, counter, value);
  r.run_type = Run::RT_Aggregate;
  r.aggregate_name = aggregate;
  return r;
}

// Reports each group of runs as Google Benchmark would (one call per benchmark), and returns the summary.
std::string summary_of(std::vector<bench::ratio_rule> rules, const std::vector<std::vector<Run>>& groups) {
  bench::ratio_reporter reporter(std::move(rules), benchmark::ConsoleReporter::OO_None);
  std::ostringstream out, err;
  reporter.SetOutputStream(&out);
  reporter.SetErrorStream(&err);
  for (const auto& group : groups) reporter.ReportRuns(group);
  reporter.Finalize();
  const std::string text = out.str();
  const std::size_t start = text.find("Ratios in this run");
  return start == std::string::npos ? std::string() : text.substr(start);
}

std::size_t ratio_lines(const std::string& text) {
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  return lines == 0 ? 0 : lines - 1;  // less the heading
}

bool has_line(const std::string& text, const std::vector<std::string>& parts) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    bool all = true;
    for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
    if (all) return true;
  }
  return false;
}

const std::vector<bench::ratio_rule> hot_path_rule{{"hot_path", "reference", "items_per_second"}};

}  // namespace

TEST_CASE("ratio_reporter divides every variant of a scenario by its baseline", "[bench_tools]") {
  const std::string text = summary_of(hot_path_rule, {{run_of("ours/hot_path", "items_per_second", 30e6)},
                                                      {run_of("reference/hot_path", "items_per_second", 10e6)},
                                                      {run_of("ceiling/hot_path", "items_per_second", 50e6)},
                                                      {run_of("ours/other", "items_per_second", 1e6)}});
  CHECK(has_line(text, {"hot_path", "ours", "3.00x", "reference", "(30M / 10M)"}));
  CHECK(has_line(text, {"ceiling", "5.00x"}));
  CHECK(ratio_lines(text) == 2);                   // the baseline is not divided by itself
  CHECK(text.find("other") == std::string::npos);  // another scenario has no rule
}

TEST_CASE("ratio_reporter takes the median aggregate, else the median of the runs", "[bench_tools]") {
  SECTION("aggregates: the median, not the mean") {
    const std::string text = summary_of(
        hot_path_rule, {{run_of("ours/hot_path", "items_per_second", 1e6),
                         aggregate_of("ours/hot_path", "mean", "items_per_second", 40e6),
                         aggregate_of("ours/hot_path", "median", "items_per_second", 20e6)},
                        {aggregate_of("reference/hot_path", "median", "items_per_second", 10e6)}});
    CHECK(has_line(text, {"ours", "2.00x"}));
  }
  SECTION("runs only: an odd count") {
    const std::string text = summary_of(hot_path_rule, {{run_of("ours/hot_path", "items_per_second", 90e6),
                                                         run_of("ours/hot_path", "items_per_second", 20e6),
                                                         run_of("ours/hot_path", "items_per_second", 30e6)},
                                                        {run_of("reference/hot_path", "items_per_second", 10e6)}});
    CHECK(has_line(text, {"ours", "3.00x"}));
  }
  SECTION("runs only: an even count averages the middle two") {
    const std::string text = summary_of(hot_path_rule, {{run_of("ours/hot_path", "items_per_second", 10e6),
                                                         run_of("ours/hot_path", "items_per_second", 40e6),
                                                         run_of("ours/hot_path", "items_per_second", 20e6),
                                                         run_of("ours/hot_path", "items_per_second", 90e6)},
                                                        {run_of("reference/hot_path", "items_per_second", 10e6)}});
    CHECK(has_line(text, {"ours", "3.00x"}));
  }
}

TEST_CASE("ratio_reporter leaves out what it cannot divide", "[bench_tools]") {
  SECTION("no baseline in the run: no summary at all") {
    CHECK(summary_of(hot_path_rule, {{run_of("ours/hot_path", "items_per_second", 30e6)}}).empty());
  }
  SECTION("a failed run counts for nothing") {
    Run failed = run_of("reference/hot_path", "items_per_second", 10e6);
    failed.error_occurred = true;
    failed.error_message = "requests failed";
    CHECK(summary_of(hot_path_rule, {{run_of("ours/hot_path", "items_per_second", 30e6)}, {failed}}).empty());
  }
  SECTION("a variant without the counter, or a zero baseline") {
    const std::string text =
        summary_of({{"hot_path", "reference", "items_per_second"}, {"flush", "floor", "late_us_p99"}},
                   {{run_of("ours/hot_path", "wakeups", 3)},
                    {run_of("reference/hot_path", "items_per_second", 10e6)},
                    {run_of("ours/flush", "late_us_p99", 30)},
                    {run_of("floor/flush", "late_us_p99", 0)}});
    CHECK(text.empty());
  }
}

TEST_CASE("make_ratio_reporter gives way to another output format", "[bench_tools]") {
  auto reporter_for = [](std::vector<const char*> args) {
    args.insert(args.begin(), "bench");
    return bench::make_ratio_reporter(static_cast<int>(args.size()), const_cast<char**>(args.data()), hot_path_rule);
  };
  CHECK(reporter_for({}) != nullptr);
  CHECK(reporter_for({"--benchmark_format=console"}) != nullptr);
  CHECK(reporter_for({"--benchmark_format=json"}) == nullptr);
  CHECK(reporter_for({"--benchmark_format=json", "--benchmark_format=console"}) != nullptr);  // the last one wins
  CHECK(reporter_for({"--benchmark_format=csv", "--benchmark_filter=hot_path"}) == nullptr);
}
