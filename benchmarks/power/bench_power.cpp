// bench_power: the same Poisson trace (100 requests/s) through each power profile over size_or_delay (20 ms window,
// max batch 128) and through a reference that polls every 1 ms (TensorFlow's design, polling_reference.hpp).
//
// Counters per run: wakeups_per_request (voluntary context switches of the thread that runs dispatch, counted the
// same way for both: getrusage(RUSAGE_THREAD) at its start and end), batcher_wakeups_per_request (the batcher's own
// count: dispatcher runs whose thread had slept), p99_ms (submission to completion), mean_batch and
// energy_mj_per_request. The label says whether the joules are measured (RAPL) or estimated (the platform model).
// The sensors are fakes at nominal temperature on mains power, so the numbers do not depend on this machine's
// temperature or charger; thermal and battery behaviour are proved by tests/power.
//
//   ./build/benchmarks/power/bench_power                      # 10 s per run, 7 runs (about 75 s)
//   ./build/benchmarks/power/bench_power --trace_seconds=1    # shorter trace (or PB_POWER_TRACE_SECONDS=1)
#include "polling_reference.hpp"

#include <powerbatch/powerbatch.hpp>
#include <powerbatch/power/accounting.hpp>
#include <powerbatch/power/profiles.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pb = powerbatch;
namespace pw = powerbatch::power;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

double trace_seconds = 10.0;
constexpr double rate_per_second = 100.0;
constexpr pb::duration window = 20ms;
constexpr std::size_t max_batch = 128;

// A stand-in model: 100 us per batch plus 10 us per request, spent on the CPU.
struct spinning_model {
  using input_type = int;
  using output_type = int;
  void run(std::span<int> in, std::span<int> out) {
    const auto until = clock_type::now() + 100us + 10us * static_cast<long>(in.size());
    while (clock_type::now() < until) {
    }
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] + 1;
  }
};

// Arrival offsets of a Poisson process, the same for every run (fixed seed).
std::vector<pb::duration> poisson_trace() {
  std::mt19937_64 random(2024);
  std::exponential_distribution<double> gap(rate_per_second);
  std::vector<pb::duration> arrivals;
  for (double t = gap(random); t < trace_seconds; t += gap(random))
    arrivals.push_back(std::chrono::duration_cast<pb::duration>(std::chrono::duration<double>(t)));
  return arrivals;
}

struct run_result {
  std::size_t requests = 0, failed = 0;
  std::uint64_t thread_switches = 0;   // the dispatch thread's voluntary context switches
  std::uint64_t batcher_wakeups = 0;   // the batcher's own count (powerbatch only)
  std::uint64_t batches = 0;
  std::vector<double> latencies_ms;
  pw::power_account account;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Submits the trace from this thread, sleeping until each arrival; `submit(i, t_submitted)` hands one request over.
template <class Submit>
void replay(const std::vector<pb::duration>& trace, Submit&& submit) {
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < trace.size(); ++i) {
    std::this_thread::sleep_until(start + trace[i]);
    submit(i, clock_type::now());
  }
}

template <class Timeout>
run_result run_powerbatch(const std::vector<pb::duration>& trace, typename Timeout::params params) {
  using batcher_type = pb::Batcher<pb::queue::moodycamel, Timeout, pb::priority::strict_levels<3>, spinning_model>;
  run_result r;
  r.latencies_ms.assign(trace.size(), 0.0);
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::uint64_t switches = 0;
  std::thread dispatch([&] {
    const std::uint64_t before = pbbench::voluntary_switches();
    io.run();
    switches = pbbench::voluntary_switches() - before;
  });
  typename batcher_type::config cfg;
  cfg.timeout = std::move(params);
  cfg.queue_capacity = 1 << 16;
  std::atomic<std::size_t> failed{0};
  pw::energy_meter meter;
  {
    batcher_type b(io.get_executor(), spinning_model{}, cfg);
    replay(trace, [&](std::size_t i, clock_type::time_point submitted) {
      b.async_submit(static_cast<int>(i), {}, [&r, &failed, i, submitted](std::error_code ec, int) {
        if (ec) failed.fetch_add(1, std::memory_order_relaxed);
        r.latencies_ms[i] = std::chrono::duration<double, std::milli>(clock_type::now() - submitted).count();
      });
    });
    b.shutdown(pb::shutdown_mode::drain);
    const pb::batcher_stats s = b.stats();
    r.account = meter.finish(s);
    r.batcher_wakeups = s.thread_wakeups;
    r.batches = s.batches;
  }
  work.reset();
  dispatch.join();
  r.requests = trace.size();
  r.failed = failed.load();
  r.thread_switches = switches;
  return r;
}

run_result run_polling_reference(const std::vector<pb::duration>& trace) {
  run_result r;
  r.latencies_ms.assign(trace.size(), 0.0);
  pw::energy_meter meter;
  pbbench::polling_batcher<spinning_model> reference(spinning_model{}, 1000us, max_batch);
  replay(trace, [&](std::size_t i, clock_type::time_point submitted) {
    reference.submit(static_cast<int>(i), [&r, i, submitted](int) {
      r.latencies_ms[i] = std::chrono::duration<double, std::milli>(clock_type::now() - submitted).count();
    });
  });
  reference.stop();
  pb::batcher_stats s;  // the reference's counts in the batcher's terms, for the same accounting
  s.completed = trace.size();
  s.thread_wakeups = reference.wakeups();
  s.dispatcher_wakeups = reference.wakeups();
  s.batches = reference.batches();
  s.busy_time = reference.busy();
  r.account = meter.finish(s);
  r.requests = trace.size();
  r.thread_switches = reference.wakeups();
  r.batcher_wakeups = reference.wakeups();
  r.batches = reference.batches();
  return r;
}

void report(benchmark::State& state, const run_result& r) {
  if (r.failed != 0) state.SkipWithError("some requests failed");
  const double n = static_cast<double>(std::max<std::size_t>(1, r.requests));
  state.counters["requests"] = static_cast<double>(r.requests);
  state.counters["wakeups_per_request"] = static_cast<double>(r.thread_switches) / n;
  state.counters["batcher_wakeups_per_request"] = static_cast<double>(r.batcher_wakeups) / n;
  state.counters["p50_ms"] = percentile(r.latencies_ms, 0.50);
  state.counters["p99_ms"] = percentile(r.latencies_ms, 0.99);
  state.counters["mean_batch"] = r.batches == 0 ? 0.0 : n / static_cast<double>(r.batches);
  state.counters["energy_mj_per_request"] = r.account.joules_per_request() * 1e3;
  state.SetLabel(std::string("energy ") + std::string(pw::to_string(r.account.energy.source)));
}

template <class Timeout>
typename Timeout::params profile_params() {
  typename Timeout::params p;
  p.inner.max_batch_size = max_batch;
  p.inner.max_delay = window;
  p.env = pw::make_environment(pw::no_thermal_sensor{}, pw::mains_power{});
  return p;
}

template <class Timeout>
void register_profile(const char* name, typename Timeout::params params) {
  benchmark::RegisterBenchmark(name, [params](benchmark::State& state) {
    const auto trace = poisson_trace();
    run_result r;
    for (auto _ : state) r = run_powerbatch<Timeout>(trace, params);
    report(state, r);
  })->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
}

using inner = pb::timeout::size_or_delay;

}  // namespace

int main(int argc, char** argv) {
  if (const char* env = std::getenv("PB_POWER_TRACE_SECONDS")) trace_seconds = std::atof(env);
  // Our one flag, taken out before Google Benchmark sees the arguments.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--trace_seconds=", 16) == 0)
      trace_seconds = std::atof(argv[i] + 16);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  if (!(trace_seconds > 0)) {
    std::fprintf(stderr, "bench_power: --trace_seconds (or PB_POWER_TRACE_SECONDS) must be a positive number\n");
    return 2;
  }

  register_profile<pw::max_performance<inner>>("powerbatch_max_performance/poisson_100rps",
                                               profile_params<pw::max_performance<inner>>());
  register_profile<pw::balanced<inner>>("powerbatch_balanced/poisson_100rps", profile_params<pw::balanced<inner>>());
  register_profile<pw::power_saver<inner>>("powerbatch_power_saver/poisson_100rps",
                                           profile_params<pw::power_saver<inner>>());
  register_profile<pw::ultra_efficient<inner>>("powerbatch_ultra_efficient/poisson_100rps",
                                               profile_params<pw::ultra_efficient<inner>>());
  register_profile<pw::thermal_aware<inner>>("powerbatch_thermal_aware/poisson_100rps",
                                             profile_params<pw::thermal_aware<inner>>());
  // custom: what a user would write — here a 50 ms tolerance on an explicit 8 ms grid.
  auto custom = profile_params<pw::custom<inner>>();
  custom.tolerance = 50ms;
  custom.grid = 8ms;
  register_profile<pw::custom<inner>>("powerbatch_custom/poisson_100rps", custom);
  benchmark::RegisterBenchmark("reference_polling_1ms/poisson_100rps", [](benchmark::State& state) {
    const auto trace = poisson_trace();
    run_result r;
    for (auto _ : state) r = run_polling_reference(trace);
    report(state, r);
  })->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("trace: Poisson, %.0f requests/s for %.2f s; inner policy size_or_delay (window 20 ms, max batch %zu)\n",
              rate_per_second, trace_seconds, max_batch);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
