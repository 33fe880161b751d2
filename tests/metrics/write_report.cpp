// Writes the HTML, Markdown and JSON reports of two sample profiles into the folder given as argv[1], for the
// headless-Chromium test (check_rendered_report.py) and for looking at by hand.
#include "sample_results.hpp"

#include <powerbatch/metrics/html_report.hpp>
#include <powerbatch/metrics/json.hpp>
#include <powerbatch/metrics/markdown_report.hpp>

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
    return 2;
  }
  const std::string folder = argv[1];
  const auto results = metrics_test::two_profiles();
  metrics_test::pm::report_options options;
  options.title = "powerbatch power-efficiency report (test profiles)";
  options.description = "Two sample profiles recorded through metrics::recorder.";
  const std::pair<std::string, std::string> files[] = {
      {folder + "/report.html", metrics_test::pm::html_report(results, options)},
      {folder + "/report.md", metrics_test::pm::markdown_report(results, options)},
      {folder + "/report.json", metrics_test::pm::json_report(results, options.title)}};
  for (const auto& [path, text] : files) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out) {
      std::fprintf(stderr, "write_report: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
