// Two profiles with different shapes, recorded through the recorder, for the exposition and report tests.
#pragma once

#include <powerbatch/metrics/recorder.hpp>
#include <powerbatch/metrics/result.hpp>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace metrics_test {

namespace pb = powerbatch;
namespace pm = powerbatch::metrics;

// `batches` batches of sizes spread up to `largest`, queue times up to `max_wait`, a backend that takes 50 us per
// request, a few rejections and wake-ups.
inline pm::metrics_snapshot recorded(unsigned seed, int batches, std::size_t largest, std::chrono::microseconds max_wait) {
  pm::recorder r;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(1, largest);
  std::uniform_int_distribution<long> wait(0, max_wait.count());
  pb::time_point now = pb::time_point{} + std::chrono::hours(1);
  std::vector<pb::time_point> arrivals;
  for (int i = 0; i < batches; ++i) {
    const std::size_t n = size(rng);
    arrivals.clear();
    for (std::size_t k = 0; k < n; ++k) arrivals.push_back(now - std::chrono::microseconds(wait(rng)));
    const pb::time_point finished = now + std::chrono::microseconds(50 * n);
    r.on_batch(pb::batch_record{0, n, static_cast<pb::flush_reason>(static_cast<std::size_t>(i) % 4), i % 97 == 0, now, now,
                                finished, arrivals});
    now = finished + std::chrono::microseconds(100);
    if (i % 3 == 0) r.on_dispatcher_wakeup(i % 2 == 0);
  }
  r.on_rejected(pb::errc::queue_full, 5);
  r.on_rejected(pb::errc::deadline_expired, 2);
  return r.snapshot();
}

inline std::vector<pm::profile_result> two_profiles() {
  std::vector<pm::profile_result> results(2);
  results[0].name = "balanced";
  results[0].metrics = recorded(1, 400, 32, std::chrono::microseconds(2000));
  results[0].power = pm::power_figures{std::nullopt, 0.85, "RAPL", 1200.0, 3.5};
  results[0].pool = pm::pool_figures{90, 10, 1, 2, 4096, 8192, 16384, 1, 2};
  results[0].duration_seconds = 2.0;
  // A name that needs escaping in every format.
  results[1].name = "power \"saver\" <b>&</b> \\ | x";
  results[1].metrics = recorded(2, 100, 128, std::chrono::microseconds(20000));
  results[1].power = pm::power_figures{0.25, 0.4, "model", std::nullopt, std::nullopt};
  return results;
}

}  // namespace metrics_test
