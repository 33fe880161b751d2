// The batcher's numeric knobs, one struct (moodycamel-traits style) rather than many template arguments.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/timeout_policy.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/request_options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE

// How producers are admitted (batcher_config::admission). Both refuse at queue_capacity and keep arrival order
// across threads: a request submitted after another's submission returned comes after it.
//  - shared_count: one atomic count that every submission adds to; it counts capacity and numbers arrivals.
//  - grouped: each submitting thread's group (its ordinal modulo 16) admits from its own share of queue_capacity,
//    and arrival order comes from the CPU's time-stamp counter read after every earlier instruction, so producers
//    write no word in common. Only where that counter orders submissions across cores: an invariant counter that
//    Linux uses as its clocksource (detail/counter_order.hpp); elsewhere the batcher uses shared_count.
//    Batcher::stats().grouped_admission says which one a batcher uses.
// Measured (bench_batcher, hot_path, 2 producers): on a 2-vCPU AMD EPYC VM, grouped moved 0.65x what shared_count
// did (18 against 27.5 M requests/s): the counter's ordered read costs a producer about 20 ns there, and the shared
// count's add, between two vCPUs, little. On a 16-core Xeon VM the shared add took 78 % of submit's time and halved
// the bare queue's throughput; grouped is not yet measured there, so it is not the default.
enum class admission_mode : std::uint8_t { shared_count, grouped };

template <class Timeout, class Priority>
struct batcher_config {
  // Requests admitted and not yet dispatched (queued or waiting); one more is refused with errc::queue_full.
  // At most 2^30: a larger value makes the Batcher's constructor throw std::invalid_argument.
  std::size_t queue_capacity = 4096;
  // See admission_mode.
  admission_mode admission = admission_mode::shared_count;
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
  // The lead learned instead, up to this much, from how late this batcher's last 128 timer wake-ups came
  // (detail/wake_lateness.hpp): their median, or their 99th percentile less flush_lateness_target where that is
  // more. The dispatcher waits out the rest busily when it wakes before the decision is due. The larger of this and
  // timer_lead applies. Zero turns learning off (a decision is then as late as the wake-up, unless timer_lead is
  // set); that is the default for Timeout policies that tolerate late wake-ups (the power profiles but
  // max_performance). Ignored with a virtual clock, like timer_lead.
  duration max_learned_timer_lead =
      tolerates_late_wakeups<Timeout> ? duration::zero() : duration(std::chrono::microseconds(200));
  // How late a timed decision may come at the 99th percentile, as far as a learned lead can see to it: a smaller target
  // buys punctuality with busy waiting, and duration::max() leaves the median alone. Wake-ups later than
  // max_learned_timer_lead plus this, which no learned lead would put on time, are not counted. Measured on a 16-core
  // Xeon VM whose wake-ups came 14-34 µs late at p50 and 50-113 µs at p99: flush lateness p99 37-50 µs in three runs of
  // four, and 74 µs in one where a fixed 100 µs lead gave 52 µs, for 9-40 µs of busy wait per timed decision (learning
  // included); the median alone gave 58-65 µs for 1-2 µs. With the percentile term alone, a 10 µs target gave 22-36 µs
  // for 18-36 µs of busy wait, and 40 µs gave 56-62 µs.
  duration flush_lateness_target = std::chrono::microseconds(25);

  typename Timeout::params timeout{};
  typename Priority::params priority{};
};

POWERBATCH_END_NAMESPACE
