// bench_lab: the policy lab's two promises, measured.
//  - Speed: simulating 24 h of a 100 requests/s diurnal trace (~8.6 M requests) with the real Batcher on virtual
//    time; reports wall seconds and simulated requests per second (target: <= 30 s on the project's 2-core machine).
//  - Agreement: the same trace run in real time against a spin backend of known cost t(n) = a*n + b and simulated
//    with that cost model; reports real/simulated p50 and p99 (target: within 20 %, i.e. ratios in [0.8, 1.2]).
//    The real run asks for real-time priority (SCHED_FIFO; counter realtime_priority = 1 when granted, e.g. as
//    root), so that other work on a small shared machine does not queue ahead of the dispatcher.
//
//   ./build/benchmarks/lab/bench_lab                                       everything (about 2 minutes)
//   ./build/benchmarks/lab/bench_lab --benchmark_filter=agreement
// The smoke test (suite bench_smoke) runs the 1 h simulation and a 1 s agreement run only.
#include <powerbatch/lab/policy_set.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <benchmark/benchmark.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace pb = powerbatch;
namespace lab = powerbatch::lab;
using namespace std::chrono_literals;
using levels = pb::priority::strict_levels<3>;

namespace {

template <class Timeout>
void simulate_trace(benchmark::State& state, const std::string& trace) {
  const auto spec = lab::parse_trace_spec(trace);
  lab::simulation_settings settings;
  settings.cost = {20us, 200us};
  pb::batcher_config<Timeout, levels> cfg;
  cfg.timeout = lab::for_simulation(cfg.timeout);
  lab::run_result r;
  for (auto _ : state) {
    auto source = lab::make_source(spec, 1);
    r = lab::simulate<pb::queue::moodycamel, Timeout, levels>(*source, cfg, settings);
    if (r.completed != r.requests) throw std::runtime_error("simulation lost requests");
    state.SetIterationTime(r.wall_seconds);
  }
  state.counters["requests"] = static_cast<double>(r.requests);
  state.counters["wall_s"] = r.wall_seconds;
  state.counters["sim_requests_per_s"] = static_cast<double>(r.requests) / r.wall_seconds;
  state.counters["us_per_request"] = r.wall_seconds * 1e6 / static_cast<double>(r.requests);
  state.counters["mean_batch"] = r.mean_batch();
}

void agreement(benchmark::State& state, const std::string& trace) {
  const lab::cost_model cost{20us, 300us};
  pb::batcher_config<pb::timeout::size_or_delay, levels> cfg;
  cfg.timeout.max_batch_size = 32;
  cfg.timeout.max_delay = 2ms;
  const auto spec = lab::parse_trace_spec(trace);
  lab::run_result real, simulated;
  for (auto _ : state) {
    auto sim_source = lab::make_source(spec, 1);
    lab::simulation_settings sim;
    sim.cost = cost;
    simulated = lab::simulate<pb::queue::moodycamel, pb::timeout::size_or_delay, levels>(*sim_source, cfg, sim);
    auto real_source = lab::make_source(spec, 1);
    lab::real_time_settings settings;
    settings.backend = std::make_shared<const lab::model>(lab::spin_model(cost));
    settings.realtime_priority = true;  // other work on the machine must not queue ahead of the lab's threads
    real = lab::run_real_time<pb::queue::moodycamel, pb::timeout::size_or_delay, levels>(*real_source, cfg, settings);
    state.SetIterationTime(real.wall_seconds);
  }
  state.counters["sim_p50_ms"] = simulated.p50_ms();
  state.counters["real_p50_ms"] = real.p50_ms();
  state.counters["sim_p99_ms"] = simulated.p99_ms();
  state.counters["real_p99_ms"] = real.p99_ms();
  state.counters["ratio_p50"] = real.p50_ms() / simulated.p50_ms();
  state.counters["ratio_p99"] = real.p99_ms() / simulated.p99_ms();
  state.counters["sim_mean_batch"] = simulated.mean_batch();
  state.counters["real_mean_batch"] = real.mean_batch();
  state.counters["realtime_priority"] = real.realtime_priority ? 1 : 0;
}

}  // namespace

using balanced = pb::power::balanced<pb::timeout::size_or_delay>;
using max_performance = pb::power::max_performance<pb::timeout::size_or_delay>;

void simulate_max_performance(benchmark::State& state, const std::string& trace) {
  simulate_trace<max_performance>(state, trace);
}
void simulate_balanced(benchmark::State& state, const std::string& trace) { simulate_trace<balanced>(state, trace); }

BENCHMARK_CAPTURE(simulate_max_performance, diurnal_1h, "diurnal:mean=100,peak=3,duration=1h")
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(simulate_max_performance, diurnal_24h, "diurnal:mean=100,peak=3,duration=24h")
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(simulate_balanced, diurnal_24h, "diurnal:mean=100,peak=3,duration=24h")
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

BENCHMARK_CAPTURE(agreement, agreement_poisson_1s, "poisson:rate=300,duration=1s")
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(agreement, agreement_poisson_10s, "poisson:rate=300,duration=10s")
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(agreement, agreement_bursty_10s, "bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=10s")
    ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

BENCHMARK_MAIN();
