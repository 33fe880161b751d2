// Timing your own Timeout policy against the built-in ones, two ways:
//  1. in the policy lab: the same 10 minutes of bursty traffic, simulated for each policy set, compared side by side
//     (latency, batch size, wake-ups, energy) — what the policy *does*;
//  2. in Google Benchmark: the cost of one decide() call — what the policy *costs* the dispatcher.
//
//   ./time_your_policy                         both (the lab table first)
//   ./time_your_policy --benchmark_filter=decide
#include <powerbatch/lab/policy_set.hpp>
#include <powerbatch/lab/report.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/timeout/common.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <vector>

namespace pb = powerbatch;
namespace lab = powerbatch::lab;
using namespace std::chrono_literals;

// The user's policy: wait longer the fewer requests there are (a window of max_delay / pending), so a lone request
// waits the full window for company and a crowd leaves at once. Any Timeout policy works the same way.
struct shrinking_window {
  struct params {
    std::size_t max_batch_size = 32;
    pb::duration max_delay = 4ms;
  };
  class state {
   public:
    explicit state(const params& p) : p_(p) {}
    pb::decision decide(const pb::lane_view& v) const noexcept {
      const std::size_t cap = pb::timeout::effective_cap(p_.max_batch_size, v);
      const auto window = p_.max_delay / static_cast<pb::duration::rep>(v.pending);
      return pb::timeout::size_window_deadline(v, cap, v.oldest_arrival + window, pb::timeout::default_deadline_margin,
                                               v.pending + 1);  // every arrival shortens the window: look again
    }

   private:
    params p_;
  };
};

using levels = pb::priority::strict_levels<3>;

// ---- 1. in the lab ------------------------------------------------------------------------------------------------

static void compare_in_the_lab() {
  lab::policy_registry registry;
  registry.add(lab::make_policy_set<pb::timeout::size_or_delay>("size_or_delay"));
  registry.add(lab::make_policy_set<pb::power::balanced<pb::timeout::size_or_delay>>("balanced"));
  registry.add(lab::make_policy_set<shrinking_window>("shrinking_window"));  // yours: one line

  const auto spec = lab::parse_trace_spec("bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=10m");
  lab::simulation_settings settings;
  settings.cost = lab::parse_cost_model("a=20us,b=200us");  // or lab::fit_cost_model(your_model)
  std::vector<lab::run_result> results;
  for (const auto& name : registry.ordered_names()) {
    auto source = lab::make_source(spec, /*seed=*/1);
    results.push_back(registry.get(name).simulate(*source, settings));
  }
  std::printf("10 simulated minutes of bursty load, cost model a=20us,b=200us:\n%s\n",
              lab::render_table(results).c_str());
}

// ---- 2. in Google Benchmark ---------------------------------------------------------------------------------------

// One decide() on a lane that has to wait (the common case between arrivals).
template <class Policy>
static void decide(benchmark::State& state) {
  typename Policy::params params{};
  if constexpr (requires { params.env = nullptr; }) params.env = nullptr;  // no sensors in a microbenchmark
  typename Policy::state policy(params);
  const pb::time_point start = std::chrono::steady_clock::now();
  pb::lane_view view;
  view.pending = 3;
  view.oldest_arrival = start;
  std::int64_t step = 0;
  for (auto _ : state) {
    view.now = start + std::chrono::microseconds(step++ & 255);  // stays inside every window
    benchmark::DoNotOptimize(policy.decide(view));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(decide<pb::timeout::size_or_delay>)->Name("decide/size_or_delay");
BENCHMARK(decide<pb::power::balanced<pb::timeout::size_or_delay>>)->Name("decide/balanced<size_or_delay>");
BENCHMARK(decide<shrinking_window>)->Name("decide/shrinking_window");

int main(int argc, char** argv) {
  compare_in_the_lab();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
