// The simulation runs the real Batcher on virtual time: exact timing, determinism, queueing on the one compute
// server, power profiles, and a loose check against real time (the 20 % agreement is bench_lab's).
#include <powerbatch/lab/policy_set.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/timeout/latency_target.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace pb = powerbatch;
namespace lab = powerbatch::lab;
using namespace std::chrono_literals;

namespace {

using levels = pb::priority::strict_levels<3>;
using size_or_delay_config = pb::batcher_config<pb::timeout::size_or_delay, levels>;

size_or_delay_config window(std::size_t max_batch, pb::duration max_delay) {
  size_or_delay_config cfg;
  cfg.timeout.max_batch_size = max_batch;
  cfg.timeout.max_delay = max_delay;
  return cfg;
}

lab::run_result simulate(const std::string& trace, const size_or_delay_config& cfg, lab::cost_model cost,
                         std::uint64_t seed = 1) {
  auto source = lab::make_source(lab::parse_trace_spec(trace), seed);
  lab::simulation_settings settings;
  settings.cost = cost;
  return lab::simulate<pb::queue::moodycamel, pb::timeout::size_or_delay, levels>(*source, cfg, settings);
}

std::int64_t ns(pb::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

}  // namespace

TEST_CASE("simulate: a lone request waits exactly max_delay, then exactly cost(1)", "[lab][simulate]") {
  // Requests 100 ms apart (a recorded trace): each one waits out its 2 ms window alone, then runs for cost(1).
  std::vector<lab::arrival> arrivals(1000);
  for (std::size_t i = 0; i < arrivals.size(); ++i) arrivals[i].at = 100ms * static_cast<int>(i + 1);
  lab::csv_source source(arrivals);
  lab::simulation_settings settings;
  settings.cost = {20us, 300us};
  const auto r = lab::simulate<pb::queue::moodycamel, pb::timeout::size_or_delay, levels>(source, window(32, 2ms),
                                                                                        settings);
  REQUIRE(r.completed == 1000);
  CHECK(r.latency_ns.min == static_cast<std::uint64_t>(ns(2ms + 320us)));
  CHECK(r.latency_ns.max == r.latency_ns.min);
  CHECK(r.batches == 1000);
  CHECK(r.flushes[static_cast<std::size_t>(pb::flush_reason::delay)] == 1000);
  CHECK(r.busy_seconds == Approx(1000 * 320e-6));
  CHECK(r.span_seconds == Approx(100.0 + 2.32e-3));
  // One wake-up for the arrival, one for the timer: two dispatcher runs per batch.
  CHECK(r.wakeups == 2000);
}

TEST_CASE("simulate: sparse Poisson arrivals mostly wait their window alone", "[lab][simulate]") {
  const lab::cost_model cost{20us, 300us};
  const auto r = simulate("poisson:rate=5,duration=200s", window(32, 2ms), cost);
  REQUIRE(r.completed == r.requests);
  REQUIRE(r.requests > 800);
  CHECK(r.p50_ms() == Approx(2.32).epsilon(0.02));
  CHECK(r.latency_ns.max <= static_cast<std::uint64_t>(ns(2ms + cost(3))));
  CHECK(r.busy_seconds == Approx(static_cast<double>(r.batches) * 300e-6 + static_cast<double>(r.completed) * 20e-6));
}

TEST_CASE("simulate: full batches leave by size, and batches queue on the one compute server", "[lab][simulate]") {
  // 20 000 requests/s against t(n) = 10 us * n + 100 us: batches of 32 take 420 us, i.e. 76 000 requests/s capacity.
  const auto r = simulate("poisson:rate=20000,duration=5s", window(32, 5ms), {10us, 100us});
  REQUIRE(r.completed == r.requests);
  CHECK(r.flushes[static_cast<std::size_t>(pb::flush_reason::size)] > r.batches * 9 / 10);
  CHECK(r.mean_batch() > 30);
  CHECK(r.throughput_rps() == Approx(20000).epsilon(0.05));
  // Overloaded (t(32) = 3.3 ms for 32 requests arriving in 1.6 ms): requests wait for the server, the queue fills.
  const auto over = simulate("poisson:rate=20000,duration=2s", window(32, 5ms), {100us, 100us});
  CHECK(over.rejections[pb::metrics::rejection_slot(pb::errc::queue_full)] > 0);
  CHECK(over.throughput_rps() == Approx(32.0 / 3.3e-3).epsilon(0.05));
}

TEST_CASE("simulate: deterministic — the same seed gives the same numbers", "[lab][simulate]") {
  const std::string trace = "bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=60s,deadline=40ms";
  const auto a = simulate(trace, window(16, 3ms), {20us, 200us}, 5);
  const auto b = simulate(trace, window(16, 3ms), {20us, 200us}, 5);
  const auto c = simulate(trace, window(16, 3ms), {20us, 200us}, 6);
  CHECK(a.requests == b.requests);
  CHECK(a.latency_ns.sum == b.latency_ns.sum);
  CHECK(a.latency_ns.buckets == b.latency_ns.buckets);
  CHECK(a.batches == b.batches);
  CHECK(a.wakeups == b.wakeups);
  CHECK(a.flushes == b.flushes);
  CHECK(a.span_seconds == b.span_seconds);
  CHECK(a.latency_ns.sum != c.latency_ns.sum);
}

TEST_CASE("simulate: power profiles trade latency for batch size and wake-ups", "[lab][simulate]") {
  using fast = pb::power::max_performance<pb::timeout::size_or_delay>;
  using saver = pb::power::power_saver<pb::timeout::size_or_delay>;
  lab::policy_registry registry;
  registry.add(lab::make_policy_set<fast>("max_performance"));
  registry.add(lab::make_policy_set<saver>("power_saver"));
  const auto spec = lab::parse_trace_spec("bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=120s");
  lab::simulation_settings settings;
  auto s1 = lab::make_source(spec, 1), s2 = lab::make_source(spec, 1);
  const auto f = registry.get("max_performance").simulate(*s1, settings);
  const auto s = registry.get("power_saver").simulate(*s2, settings);
  REQUIRE(f.requests == s.requests);
  REQUIRE(f.completed == f.requests);
  REQUIRE(s.completed == s.requests);
  CHECK(f.profile == "max_performance");
  CHECK(s.mean_batch() > 2 * f.mean_batch());
  CHECK(s.wakeups_per_request() < f.wakeups_per_request() / 2);
  CHECK(s.energy_mj_per_request() < f.energy_mj_per_request());
  CHECK(s.p50_ms() > f.p50_ms());
}

TEST_CASE("simulate: a learning policy sees the modelled service time", "[lab][simulate]") {
  // latency_target fits t(n) from each batch's measured service time; in the simulation that time is exact, so with
  // a 3 ms target and t(n) = 50 us * n + 500 us it settles on batches near (3 ms - 500 us - wait) / 50 us.
  pb::batcher_config<pb::timeout::latency_target, levels> cfg;
  cfg.timeout.target_latency = 3ms;
  cfg.timeout.max_batch_size = 64;
  auto source = lab::make_source(lab::parse_trace_spec("poisson:rate=5000,duration=20s"), 2);
  lab::simulation_settings settings;
  settings.cost = {50us, 500us};
  const auto r = lab::simulate<pb::queue::moodycamel, pb::timeout::latency_target, levels>(*source, cfg, settings);
  REQUIRE(r.completed == r.requests);
  CHECK(r.p50_ms() < 3.0);
  CHECK(r.mean_batch() > 8);
}

TEST_CASE("simulate vs real time: the same trace gives close latencies (loose; bench_lab measures 20 %)",
          "[lab][simulate][real]") {
  // A backend whose cost is known (a spin of a*n + b) and a window long against scheduling noise. The real run asks
  // for real-time priority, but on a small shared (virtualised) machine the scheduler's delays still reach the tail,
  // so the test checks the median within 30 % and only a lower bound on p99 (the simulation has no overheads, so
  // real time must not beat it; noise only adds). Up to three tries. bench_lab measures the agreement itself.
  const lab::cost_model cost{20us, 300us};
  const std::string trace = "poisson:rate=300,duration=2s";
  const auto cfg = window(32, 2ms);
  const auto simulated = simulate(trace, cfg, cost);
  bool agreed = false;
  for (int attempt = 0; attempt < 3 && !agreed; ++attempt) {
    auto source = lab::make_source(lab::parse_trace_spec(trace), 1);
    lab::real_time_settings settings;
    settings.backend = std::make_shared<const lab::model>(lab::spin_model(cost));
    settings.realtime_priority = true;
    const auto real = lab::run_real_time<pb::queue::moodycamel, pb::timeout::size_or_delay, levels>(*source, cfg,
                                                                                                  settings);
    REQUIRE(real.completed == real.requests);
    REQUIRE(real.requests == simulated.requests);
    const double p50 = real.p50_ms() / simulated.p50_ms(), p99 = real.p99_ms() / simulated.p99_ms();
    WARN("real/simulated p50 " << p50 << ", p99 " << p99 << " (attempt " << attempt + 1
                               << (real.realtime_priority ? ", real-time priority)" : ", normal priority)"));
    agreed = std::abs(p50 - 1) < 0.3 && p99 > 0.8;
  }
  CHECK(agreed);
}
