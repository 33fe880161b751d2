// metrics::profile_result — one named run (a batcher, a power profile, a policy set) as the exposition formats and
// reports take it: its metrics snapshot, and optionally its power figures, buffer-pool figures and duration.
// A report over one batcher is a list of one; the policy lab passes one per policy set and gets them side by side.
//
// Power and pool figures are plain inputs so that this layer depends on neither: fill power_figures from the power
// layer's accounting, and pool_figures from a compute::Pool's stats() with to_pool_figures().
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/snapshot.hpp>

#include <cstdint>
#include <optional>
#include <string>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

// Seed 001's power efficiency metrics, per run. Every figure is optional: a report shows what it is given.
struct power_figures {
  std::optional<double> wakeups_per_request;    // thread wake-ups per request (else the snapshot's own count)
  std::optional<double> energy_mj_per_request;  // millijoules per request that reached the backend
  std::string energy_source;                    // where the energy figure came from, e.g. "RAPL" or "model"
  std::optional<double> average_power_mw;       // seed 001's power_consumption_mw
  std::optional<double> battery_percent_per_hour;  // seed 001's battery_impact_percent_per_hour
};

// A buffer pool's statistics (the fields of compute::pool_stats).
struct pool_figures {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t rejections = 0;
  std::uint64_t evictions = 0;
  std::uint64_t bytes_leased = 0;
  std::uint64_t bytes_shelved = 0;
  std::uint64_t peak_bytes = 0;
  std::uint64_t buffers_leased = 0;
  std::uint64_t buffers_shelved = 0;

  double hit_ratio() const noexcept {
    const std::uint64_t acquires = hits + misses;
    return acquires == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(acquires);
  }
};

// Copies any statistics struct with compute::pool_stats' field names (without this layer including compute/).
template <class PoolStats>
  requires requires(const PoolStats& s) {
    s.hits; s.misses; s.rejections; s.evictions; s.bytes_leased; s.bytes_shelved; s.peak_bytes;
    s.buffers_leased; s.buffers_shelved;
  }
pool_figures to_pool_figures(const PoolStats& s) {
  return pool_figures{static_cast<std::uint64_t>(s.hits),          static_cast<std::uint64_t>(s.misses),
                      static_cast<std::uint64_t>(s.rejections),    static_cast<std::uint64_t>(s.evictions),
                      static_cast<std::uint64_t>(s.bytes_leased),  static_cast<std::uint64_t>(s.bytes_shelved),
                      static_cast<std::uint64_t>(s.peak_bytes),    static_cast<std::uint64_t>(s.buffers_leased),
                      static_cast<std::uint64_t>(s.buffers_shelved)};
}

struct profile_result {
  std::string name;  // e.g. "balanced"; the series name in comparison charts (may be empty for a single batcher)
  metrics_snapshot metrics;
  std::optional<power_figures> power;
  std::optional<pool_figures> pool;
  std::optional<double> duration_seconds;  // how long the run took (real or simulated), for throughput

  // Thread wake-ups per request: the power figures' when given, else the snapshot's.
  double wakeups_per_request() const noexcept {
    return power && power->wakeups_per_request ? *power->wakeups_per_request : metrics.wakeups_per_request();
  }
  // Requests that reached the backend, per second of the run; empty without a duration.
  std::optional<double> throughput_per_second() const noexcept {
    if (!duration_seconds || !(*duration_seconds > 0)) return std::nullopt;
    return static_cast<double>(metrics.requests) / *duration_seconds;
  }
};

}  // namespace metrics
POWERBATCH_END_NAMESPACE
