// The batcher's numeric knobs, one struct (moodycamel-traits style) rather than many template arguments.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/timeout_policy.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/request_options.hpp>

#include <chrono>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE

template <class Timeout, class Priority>
struct batcher_config {
  // Requests admitted and not yet dispatched (queued or waiting); one more is refused with errc::queue_full.
  // At most 2^30: a larger value makes the Batcher's constructor throw std::invalid_argument.
  std::size_t queue_capacity = 4096;
  // Batches running at once; further batches wait on the dispatcher (backpressure towards the queue).
  std::size_t max_in_flight = 2;
  // Requests at urgent_priority or more urgent flush their batch at once (seed 000); false disables this.
  bool high_priority_flushes = true;
  priority_level urgent_priority = priority_levels::high;
  // How long before a timed decision (max_delay, a deadline) the timer fires; the dispatcher then waits out the rest
  // on its thread, reading the clock, so the decision is on time instead of as late as the thread's wake-up (on
  // the Xeon VM we measure, 17 µs at p50 and about 60 µs at p99). It costs up to this much busy CPU per timed
  // decision and holds the executor's thread meanwhile. Zero (the default) adds nothing to the learned lead below.
  // Ignored with a virtual clock (manual_clock, the lab's simulation clock), which does not move by itself.
  duration timer_lead = duration::zero();
  // The lead learned instead, up to this much: the timer fires early by the median lateness of this batcher's own
  // timer wake-ups so far (detail/wake_lateness.hpp), and the dispatcher waits out the rest busily when it wakes
  // before the decision is due. The larger of this and timer_lead applies. Measured on a 2-core VM whose wake-ups
  // come 24-29 µs late at the median: flush lateness p50 / p99 from 28 / 55-62 µs to 0.4-0.6 / 31-44 µs, for about
  // 1 µs of busy wait per timed decision on average. Zero turns learning off (a decision is then as late as the
  // wake-up, unless timer_lead is set); that is the default for Timeout policies that tolerate late wake-ups (the
  // power profiles but max_performance). Ignored with a virtual clock, like timer_lead.
  duration max_learned_timer_lead =
      tolerates_late_wakeups<Timeout> ? duration::zero() : duration(std::chrono::microseconds(200));

  typename Timeout::params timeout{};
  typename Priority::params priority{};
};

POWERBATCH_END_NAMESPACE
