// power::governed<Inner, Profile> — a Timeout policy that wraps any other Timeout policy and adds the power and heat
// behaviour of a profile: wake alignment within a tolerance, thermal reactions, and power-source deferral.
//
// It is a decorator, so Batcher<Queue, power::balanced<timeout::size_or_delay>, Priority, Backend> keeps the three
// policy parameters the user named; its params hold the inner policy's params (`inner`) next to the profile's knobs.
//
// How one decide() goes (the dispatcher calls it; nothing here runs on the submit path or from a timer of its own):
//  1. Conditions: the shared environment is polled; it reads the sensors only if a sensor period has passed.
//  2. Reaction: the thermal level picks a row of the reaction table (max batch size, window scale, batches in
//     flight, deferral of low priority); on battery or in low-power mode the tolerance widens and low priority may
//     be deferred.
//  3. Deadlines first: once the earliest deadline is within deadline_margin, the lane flushes whatever else holds.
//  4. Fewer batches in flight: at the reaction's limit it waits for a running batch to finish.
//  5. Deferral: a lane that holds only low-priority requests waits — until a more urgent request arrives (they ride
//     along), a deadline forces them, the condition ends (checked every deferral_recheck), or a full batch of them
//     waits (the cheapest way to run them, and it keeps the queue from filling).
//  6. Otherwise the inner policy decides on a shifted clock. Its flush time R ("due") is moved to the last tick of
//     the shared wake grid at or before R + tolerance, and its window is stretched by the reaction's window scale.
//     Both are done by showing the inner policy an earlier `now` (power::latest_due_leaving_at), so the inner
//     policy needs no change and keeps its own size rule; its wake time is mapped back the same way.
// A batch cut short by the reaction's size cap reports flush_reason::thermal.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/timeout_policy.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/power/alignment.hpp>
#include <powerbatch/power/environment.hpp>
#include <powerbatch/timeout/common.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

inline constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

// What one thermal level does to the batcher.
struct thermal_reaction {
  std::size_t max_batch_size = no_limit;  // cap on the batch size (smaller bursts of compute)
  double window_scale = 1.0;              // the inner policy's window is this many times longer (>= 1)
  std::size_t max_in_flight = no_limit;   // batches of this batcher running at once
  bool defer_low_priority = false;        // hold lanes that only hold low-priority requests
};

// One row per thermal_level, nominal first.
using reaction_table = std::array<thermal_reaction, 5>;

// What running on battery (or in the OS's low-power mode) does.
struct power_source_reaction {
  double tolerance_scale = 1.0;     // the profile's tolerance is this many times wider
  bool defer_low_priority = false;  // seed 000: schedule non-urgent requests during charging
};

// The reaction in force: the thermal row combined with the power-source rules.
struct effective_reaction {
  thermal_reaction thermal;
  double tolerance_scale = 1.0;
  bool defer_low_priority = false;
  bool active = false;  // anything differs from the profile at nominal temperature on mains power
};

constexpr effective_reaction combine(const reaction_table& table, const power_source_reaction& on_battery,
                                     const power_source_reaction& low_power_mode, const conditions& c) noexcept {
  effective_reaction r;
  r.thermal = table[static_cast<std::size_t>(c.level)];
  r.defer_low_priority = r.thermal.defer_low_priority;
  if (c.on_battery) {
    r.tolerance_scale = std::max(r.tolerance_scale, on_battery.tolerance_scale);
    r.defer_low_priority = r.defer_low_priority || on_battery.defer_low_priority;
  }
  if (c.low_power_mode) {
    r.tolerance_scale = std::max(r.tolerance_scale, low_power_mode.tolerance_scale);
    r.defer_low_priority = r.defer_low_priority || low_power_mode.defer_low_priority;
  }
  r.active = c.level != thermal_level::nominal || c.on_battery || c.low_power_mode;
  return r;
}

namespace detail {

// t seen on a clock that runs `scale` times slower since `origin` (scale >= 1); never earlier than origin.
inline time_point slow_down(time_point t, time_point origin, double scale) noexcept {
  if (t <= origin) return origin;
  if (scale <= 1.0) return t;
  const std::chrono::duration<double, duration::period> elapsed(t - origin);
  return origin + std::chrono::duration_cast<duration>(elapsed / scale);
}

// The inverse: an instant on the slow clock back on the real one (max() stays max()).
inline time_point speed_up(time_point t, time_point origin, double scale) noexcept {
  if (t == time_point::max() || t <= origin || scale <= 1.0) return t;
  const std::chrono::duration<double, duration::period> elapsed(t - origin);
  const std::chrono::duration<double, duration::period> room(time_point::max() - origin);
  if (elapsed * scale >= room) return time_point::max();
  return origin + std::chrono::duration_cast<duration>(elapsed * scale);
}

template <class P>
constexpr std::optional<duration> deadline_margin_of(const P& p) noexcept {
  if constexpr (requires { duration(p.deadline_margin); })
    return duration(p.deadline_margin);
  else
    return std::nullopt;
}

}  // namespace detail

// Profile: a struct with `name`, `tolerance`, `thermal_reactions()`, `on_battery()` and `low_power_mode()`
// (see profiles.hpp); it only supplies defaults, every one of which the params can override.
template <timeout_policy Inner, class Profile>
struct governed {
  using inner_policy = Inner;
  using profile = Profile;
  static constexpr std::string_view name = Profile::name;
  // A profile with a wake tolerance lets batches leave late on purpose: no busy-waited timer lead by default.
  static constexpr bool tolerates_late_wakeups = Profile::tolerance > duration::zero();

  struct params {
    typename Inner::params inner{};
    // How late after the inner policy's flush time a batch may leave, so it can wait for a shared grid tick and
    // collect more requests. Widened by power_source_reaction::tolerance_scale on battery.
    duration tolerance = Profile::tolerance;
    // The wake grid; unset: wake_grid(tolerance in force), which nests with every other batcher's grid.
    std::optional<duration> grid;
    reaction_table thermal = Profile::thermal_reactions();
    power_source_reaction on_battery = Profile::on_battery();
    power_source_reaction low_power_mode = Profile::low_power_mode();
    // Flush this long before the earliest deadline; unset: the inner policy's deadline_margin if it has one.
    std::optional<duration> deadline_margin;
    // How often a lane whose requests are deferred looks again whether the condition has ended (a wake-up each
    // time, only while something is deferred). 5 s: five sensor periods; charging starting is not urgent.
    duration deferral_recheck = std::chrono::seconds(5);
    // The sensors; shared by every batcher given the same pointer. Null: nominal temperature, mains power.
    std::shared_ptr<environment> env = environment::platform();
  };

  class state {
   public:
    explicit state(const params& p)
        : params_(p),
          inner_(p.inner),
          margin_(p.deadline_margin.value_or(
              detail::deadline_margin_of(p.inner).value_or(timeout::default_deadline_margin))) {}

    decision decide(const lane_view& v) {
      // The batcher must flush anyway (urgent request, drain) and only asks how many: apply the cap, read nothing.
      if (v.now == time_point::max()) {
        lane_view capped = v;
        capped.max_batch_size = cap_for(reaction_at(current()), v);
        return inner_.decide(capped);
      }
      const effective_reaction r = reaction_at(params_.env ? params_.env->poll(v.now) : conditions{});
      last_reaction_ = r;
      const std::size_t cap = cap_for(r, v);
      const std::size_t ready = std::min(v.pending, cap);

      const time_point deadline_at = timeout::deadline_flush_at(v, margin_);
      if (v.now >= deadline_at) return decision::flush(forced_size(v, cap), flush_reason::deadline);

      if (v.in_flight >= r.thermal.max_in_flight) return decision::wait_for_batch(deadline_at);

      const duration tolerance = scaled(params_.tolerance, r.tolerance_scale);
      const duration grid = grid_for(tolerance);

      lane_view shifted = v;
      shifted.max_batch_size = cap;
      if (r.defer_low_priority && v.pending_deferrable >= v.pending) {
        // A full batch (the inner policy's size rule, at any time) runs; anything less waits.
        shifted.earliest_deadline = time_point::max();
        shifted.now = v.oldest_arrival;
        if (const decision full = inner_.decide(shifted); full.flushes() && full.reason == flush_reason::size)
          return decision::flush(std::min(full.flush_count, ready), reason_for(full, cap, v));
        const time_point recheck = align_up(v.now + params_.deferral_recheck, grid);
        // Any arrival wakes us: a more urgent one must not wait for the recheck, the low ones ride along with it.
        return decision::wait(std::min(recheck, deadline_at), v.pending + 1);
      }

      const double scale = std::max(1.0, r.thermal.window_scale);
      const time_point due_by_now = latest_due_leaving_at(v.now, tolerance, grid);
      shifted.now = detail::slow_down(due_by_now, v.oldest_arrival, scale);
      // Same time left to the deadline on the shifted clock, so an inner policy that flushes early for deadlines
      // (latency_target's predicted service time) still does so at the right real instant.
      if (v.earliest_deadline != time_point::max())
        shifted.earliest_deadline = shifted.now + (v.earliest_deadline - v.now);
      decision d = inner_.decide(shifted);
      if (d.flushes()) {
        d.flush_count = std::min(d.flush_count, ready);
        d.reason = reason_for(d, cap, v);
        return d;
      }
      time_point wake = d.wake_at;
      if (wake != time_point::max()) {
        wake = aligned_flush_time(detail::speed_up(wake, v.oldest_arrival, scale), tolerance, grid);
        // Rounding in the stretch can land on or before now; never ask to be woken in the past.
        if (wake <= v.now) wake = grid > duration::zero() ? align_up(v.now + duration(1), grid) : v.now + duration(1);
      }
      d.wake_at = std::min(wake, deadline_at);
      return d;
    }

    void on_batch_complete(const batch_feedback& feedback) {
      if constexpr (learns_from_feedback<typename Inner::state>) inner_.on_batch_complete(feedback);
    }

    // For reports and tests: the reaction the last decision used, and the inner policy's state.
    const effective_reaction& last_reaction() const noexcept { return last_reaction_; }
    const typename Inner::state& inner() const noexcept { return inner_; }

   private:
    conditions current() const noexcept { return params_.env ? params_.env->current() : conditions{}; }

    effective_reaction reaction_at(const conditions& c) const noexcept {
      return combine(params_.thermal, params_.on_battery, params_.low_power_mode, c);
    }

    // A batch cut at the reaction's cap (below the batcher's own) was shaped by heat: say so.
    static flush_reason reason_for(const decision& d, std::size_t cap, const lane_view& v) noexcept {
      return d.reason == flush_reason::size && d.flush_count == cap && cap < v.max_batch_size ? flush_reason::thermal
                                                                                              : d.reason;
    }

    // How many leave when the lane must flush now: what the inner policy allows once its window has closed.
    std::size_t forced_size(const lane_view& v, std::size_t cap) {
      lane_view closed = v;
      closed.now = time_point::max();
      closed.max_batch_size = cap;
      const decision d = inner_.decide(closed);
      const std::size_t ready = std::min(v.pending, cap);
      return d.flushes() ? std::min(d.flush_count, ready) : ready;
    }

    static std::size_t cap_for(const effective_reaction& r, const lane_view& v) noexcept {
      return std::max<std::size_t>(1, std::min(v.max_batch_size, r.thermal.max_batch_size));
    }

    static duration scaled(duration d, double scale) noexcept {
      if (scale <= 1.0) return d;
      return std::chrono::duration_cast<duration>(std::chrono::duration<double, duration::period>(d) * scale);
    }

    duration grid_for(duration tolerance) const noexcept {
      if (params_.grid && *params_.grid <= tolerance) return *params_.grid;
      return wake_grid(tolerance);
    }

    params params_;
    typename Inner::state inner_;
    duration margin_;
    effective_reaction last_reaction_{};
  };
};

}  // namespace power
POWERBATCH_END_NAMESPACE
