// lab::run_result — what one policy set did on one trace, real or simulated: latency quantiles, throughput, batch
// sizes, flush reasons, wake-ups and energy, in the units the report prints.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/snapshot.hpp>
#include <powerbatch/power/energy.hpp>
#include <powerbatch/request_options.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// Energy comes from power::energy_model (power/energy.hpp: cited per-platform constants), applied to what the
// batcher did, so that simulated and real runs report it the same way: each thread wake-up (a dispatcher run, or
// the start of a batch on the compute thread) costs joules_per_wakeup, the backend's busy time costs active_watts.
// Idle power is the same whatever the policy, so it is left out: the figure is the energy of serving the requests.
using energy_model = power::energy_model;

struct run_result {
  std::string profile;                 // the policy set's name
  std::string mode;                    // "run" (real time) or "simulate"
  std::uint64_t requests = 0;          // arrivals in the trace
  std::uint64_t completed = 0;         // answered by the backend
  std::uint64_t rejected = 0;          // queue_full, deadline_expired, shutting_down, cancelled
  std::array<std::uint64_t, metrics::rejection_slot_count> rejections{};  // by reason (metrics::rejection_slot)
  std::uint64_t failed = 0;            // backend_failed
  metrics::histogram_snapshot latency_ns;   // submit to completion, completed requests only
  metrics::histogram_snapshot batch_sizes;
  double wall_seconds = 0;             // how long the run took on this machine
  double span_seconds = 0;             // first arrival to last completion, in the run's own time
  std::array<std::uint64_t, flush_reason_count> flushes{};
  std::uint64_t wakeups = 0;           // dispatcher runs (posted wake-ups plus timer expiries)
  std::uint64_t batches = 0;
  double busy_seconds = 0;             // backend busy time
  double energy_joules = 0;
  bool realtime_priority = false;      // run: the lab's threads ran at real-time priority (real_time_settings)            // per energy_model (or measured, where a platform meter was used)

  double p(double q) const noexcept { return latency_ns.percentile(q) / 1e6; }  // milliseconds
  double p50_ms() const noexcept { return p(0.50); }
  double p90_ms() const noexcept { return p(0.90); }
  double p99_ms() const noexcept { return p(0.99); }
  double p999_ms() const noexcept { return p(0.999); }
  double throughput_rps() const noexcept { return span_seconds > 0 ? static_cast<double>(completed) / span_seconds : 0; }
  double mean_batch() const noexcept { return batch_sizes.mean(); }
  double p99_batch() const noexcept { return batch_sizes.percentile(0.99); }
  double wakeups_per_request() const noexcept {
    return completed ? static_cast<double>(wakeups + batches) / static_cast<double>(completed) : 0;
  }
  double energy_mj_per_request() const noexcept {
    return completed ? energy_joules * 1e3 / static_cast<double>(completed) : 0;
  }
};

inline double modelled_energy(const energy_model& model, double busy_seconds, std::uint64_t wakeups,
                              std::uint64_t batches) noexcept {
  return power::estimate_energy(model, wakeups + batches, std::chrono::duration<double>(busy_seconds),
                                std::chrono::duration<double>(0))
      .joules;
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
