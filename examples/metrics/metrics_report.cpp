// Metrics and the power-efficiency report: two policy sets serve the same traffic, each batcher with a
// metrics::recorder as its Observer and the power layer's energy meter around it (RAPL where readable, the model
// elsewhere); the program prints both in the Prometheus text format and writes the Markdown and HTML reports
// (report.md, report.html: one file, charts inline, opens with no network) side by side.
//
// Usage: metrics_report [requests=2000] [output folder=.]
#include <powerbatch/metrics/from_power.hpp>
#include <powerbatch/metrics/metrics.hpp>
#include <powerbatch/powerbatch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pb = powerbatch;
namespace pm = powerbatch::metrics;
using namespace std::chrono_literals;

// A model whose batch costs 40 us plus 5 us per request (busy, like a CPU kernel): batching amortises the 40 us.
struct simulated_model {
  using input_type = float;
  using output_type = float;
  void run(std::span<float> in, std::span<float> out) {
    const auto until = std::chrono::steady_clock::now() + 40us + 5us * in.size();
    while (std::chrono::steady_clock::now() < until) {
    }
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = 2 * in[i];
  }
};

using metered_batcher = pb::Batcher<pb::queue::moodycamel, pb::timeout::size_or_delay, pb::priority::strict_levels<3>,
                                    simulated_model, std::chrono::steady_clock, pm::recorder>;

// Serves `requests` requests arriving about every 200 us (Poisson) and returns what the recorder saw.
pm::profile_result serve(const std::string& name, metered_batcher::config cfg, int requests) {
  pb::runner threads(1);
  metered_batcher batcher(threads.get_executor(), simulated_model{}, cfg);
  std::atomic<int> done{0};
  std::mt19937 rng(1);
  std::exponential_distribution<double> gap_us(1.0 / 200);
  const auto start = std::chrono::steady_clock::now();
  pb::power::energy_meter meter;
  for (int i = 0; i < requests; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(gap_us(rng))));
    batcher.async_submit(float(i), pb::request_options{}.with_timeout(50ms),
                         [&done](std::error_code, float) { done.fetch_add(1); });
  }
  batcher.shutdown(pb::shutdown_mode::drain);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const pb::power::power_account account = meter.finish(batcher.stats());
  pm::profile_result result{name, batcher.observer().snapshot(), pm::to_power_figures(account), std::nullopt, seconds};
  std::fprintf(stderr, "%-12s %d requests in %.2f s: %llu batches, mean size %.1f, p99 %s, %.3f mJ/request (%s)\n",
               name.c_str(), done.load(), seconds, static_cast<unsigned long long>(result.metrics.batches),
               result.metrics.mean_batch_size(), pm::format::duration_ns(result.metrics.latency.percentile(0.99)).c_str(),
               account.joules_per_request() * 1e3, result.power->energy_source.c_str());
  return result;
}

int main(int argc, char** argv) {
  const int requests = argc > 1 ? std::atoi(argv[1]) : 2000;
  const std::string folder = argc > 2 ? argv[2] : ".";

  metered_batcher::config responsive;
  responsive.timeout.max_batch_size = 8;
  responsive.timeout.max_delay = 300us;
  metered_batcher::config power_saver;
  power_saver.timeout.max_batch_size = 64;
  power_saver.timeout.max_delay = 5ms;
  const std::vector<pm::profile_result> results{serve("responsive", responsive, requests),
                                                serve("power_saver", power_saver, requests)};

  std::fputs(pm::prometheus_text(results, {.constant_labels = {{"example", "metrics_report"}}}).c_str(), stdout);

  pm::report_options options;
  options.description = "Poisson arrivals every 200 us on average, a simulated model costing 40 us + 5 us per "
                        "request; two size_or_delay policy sets.";
  for (const auto& [file, text] : {std::pair{std::string("/report.html"), pm::html_report(results, options)},
                                   std::pair{std::string("/report.md"), pm::markdown_report(results, options)}}) {
    std::ofstream out(folder + file);
    out << text;
    if (!out) {
      std::fprintf(stderr, "metrics_report: cannot write %s%s\n", folder.c_str(), file.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "wrote %s/report.html and %s/report.md\n", folder.c_str(), folder.c_str());
  return 0;
}
