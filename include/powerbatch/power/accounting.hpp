// power::accounting — what a batcher's work cost: wake-ups, timers, batches, busy time, seed 000's wake cycles saved,
// and energy per request, measured by RAPL where readable and estimated by the platform's energy model elsewhere.
//
//   power::energy_meter meter;                       // at the start of the interval: RAPL reading if readable
//   auto before = batcher.stats();
//   ... run traffic ...
//   power::power_account a = meter.finish(power::stats_between(before, batcher.stats()));
//   std::fputs(power::describe(a).c_str(), stdout);  // says which method produced the joules
//
// The model's joules are the batcher's own: wake-ups x joules_per_wakeup + busy time x active_watts. Idle power is
// the machine's whatever the batcher does, so it is not charged to requests (include_idle adds it). RAPL measures
// the whole package — every process on the machine and its idle power — so its per-request figure is an upper
// bound on what the batcher caused; compare policies with it only on an otherwise quiet machine.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/power/energy.hpp>
#include <powerbatch/stats.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

struct power_account {
  std::uint64_t requests = 0;           // served: completed or failed in the backend
  std::uint64_t wakeups = 0;            // dispatcher runs whose thread had slept (batcher_stats::thread_wakeups)
  std::uint64_t dispatcher_runs = 0;    // all dispatcher runs, slept or not
  std::uint64_t timers_armed = 0;
  std::uint64_t batches = 0;
  std::chrono::nanoseconds busy{};      // time in the backend
  std::chrono::nanoseconds busy_waiting{};  // the dispatcher's busy waits for timed decisions (its timer lead)
  duration interval{};                  // wall time the account covers
  std::uint64_t wake_cycles_saved = 0;  // requests - wakeups (seed 000)
  energy_estimate energy{0.0, energy_estimate::method::model};  // over the interval
  std::string_view energy_source;       // the model's sources, or the RAPL note

  double wakeups_per_request() const noexcept {
    return requests == 0 ? 0.0 : static_cast<double>(wakeups) / static_cast<double>(requests);
  }
  double joules_per_request() const noexcept {
    return requests == 0 ? 0.0 : energy.joules / static_cast<double>(requests);
  }
  double mean_batch_size() const noexcept {
    return batches == 0 ? 0.0 : static_cast<double>(requests) / static_cast<double>(batches);
  }
};

inline constexpr std::string_view rapl_source =
    "measured: RAPL package counters (/sys/class/powercap/intel-rapl:*/energy_uj, wraparound handled); the whole "
    "package, every process and idle power included";

// The difference of two snapshots of one batcher's stats (take one at the start of the interval, one at its end).
inline batcher_stats stats_between(const batcher_stats& before, const batcher_stats& after) noexcept {
  batcher_stats d = after;
  d.submitted -= before.submitted;
  d.completed -= before.completed;
  d.backend_failed -= before.backend_failed;
  d.batches -= before.batches;
  d.batched_requests -= before.batched_requests;
  d.dispatcher_wakeups -= before.dispatcher_wakeups;
  d.thread_wakeups -= before.thread_wakeups;
  d.timers_armed -= before.timers_armed;
  d.timer_fires -= before.timer_fires;
  d.wakeups_posted -= before.wakeups_posted;
  d.busy_time -= before.busy_time;
  d.busy_waits -= before.busy_waits;
  d.busy_wait_time -= before.busy_wait_time;
  return d;
}

// Counts from the stats; energy from the model (no measurement available).
inline power_account account(const batcher_stats& s, duration interval,
                             const energy_model& model = platform_energy_model(), bool include_idle = false) {
  power_account a;
  a.requests = s.completed + s.backend_failed;
  a.wakeups = s.thread_wakeups;
  a.dispatcher_runs = s.dispatcher_wakeups;
  a.timers_armed = s.timers_armed;
  a.batches = s.batches;
  a.busy = s.busy_time;
  a.busy_waiting = s.busy_wait_time;
  a.interval = interval;
  a.wake_cycles_saved = s.wake_cycles_saved();
  const auto active = a.busy + a.busy_waiting;  // a busy wait burns like work
  const duration idle = include_idle ? std::max(duration::zero(), interval - std::chrono::duration_cast<duration>(active))
                                     : duration::zero();
  a.energy = estimate_energy(model, a.wakeups, active, idle);
  a.energy_source = model.source;
  return a;
}

// Counts from the stats; energy measured over the same interval (the RAPL joules consumed during it).
inline power_account account(const batcher_stats& s, duration interval, double measured_joules) {
  power_account a = account(s, interval);
  a.energy = energy_estimate{measured_joules, energy_estimate::method::rapl};
  a.energy_source = rapl_source;
  return a;
}

struct energy_meter_options {
  bool use_rapl = true;
  std::filesystem::path powercap_root = "/sys/class/powercap";  // injectable for tests
  energy_model model = platform_energy_model();                   // used where RAPL is not readable
};

// Brackets an interval: RAPL where its counters are readable (root on Linux x86), the model otherwise.
class energy_meter {
 public:
  explicit energy_meter(energy_meter_options options = {}, time_point start = std::chrono::steady_clock::now())
      : start_(start), model_(options.model) {
    if (!options.use_rapl) {
      why_model_ = "RAPL not asked for";
      return;
    }
    rapl_.emplace(options.powercap_root);
    if (rapl_->readable()) {
      const rapl_reading r = rapl_->read_joules();
      if (!r.error) start_joules_ = r.joules;
      else why_model_ = r.detail;
    } else {
      why_model_ = rapl_->error_detail();
    }
    if (!start_joules_) rapl_.reset();
  }

  bool measures() const noexcept { return start_joules_.has_value(); }
  // Why the model is used (the RAPL file or setting at fault); empty while RAPL measures.
  const std::string& why_model() const noexcept { return why_model_; }

  // The account for stats gathered over [start, end]: pass the stats' difference over the interval
  // (stats_between), or the whole stats of a batcher created at the start.
  power_account finish(const batcher_stats& over_interval, time_point end = std::chrono::steady_clock::now()) {
    const duration interval = end - start_;
    if (rapl_) {
      const rapl_reading r = rapl_->read_joules();
      if (!r.error) return account(over_interval, interval, r.joules - *start_joules_);
      why_model_ = r.detail;
    }
    return account(over_interval, interval, model_);
  }

 private:
  time_point start_;
  energy_model model_;
  std::optional<rapl_meter> rapl_;
  std::optional<double> start_joules_;
  std::string why_model_;
};

// A few lines for a log or a terminal, naming the method behind the joules.
inline std::string describe(const power_account& a) {
  char buffer[768];
  const double seconds = std::chrono::duration<double>(a.interval).count();
  std::snprintf(buffer, sizeof buffer,
                "requests %llu in %.3f s, batches %llu (mean size %.1f), busy %.3f ms\n"
                "wake-ups %llu (%.3f per request; %llu dispatcher runs), timers armed %llu, wake cycles saved %llu\n"
                "energy %.3f mJ per request, %s: %.*s\n",
                static_cast<unsigned long long>(a.requests), seconds, static_cast<unsigned long long>(a.batches),
                a.mean_batch_size(), std::chrono::duration<double, std::milli>(a.busy).count(),
                static_cast<unsigned long long>(a.wakeups), a.wakeups_per_request(),
                static_cast<unsigned long long>(a.dispatcher_runs), static_cast<unsigned long long>(a.timers_armed),
                static_cast<unsigned long long>(a.wake_cycles_saved), a.joules_per_request() * 1e3,
                std::string(to_string(a.energy.source)).c_str(), static_cast<int>(a.energy_source.size()),
                a.energy_source.data());
  return buffer;
}

}  // namespace power
POWERBATCH_END_NAMESPACE
