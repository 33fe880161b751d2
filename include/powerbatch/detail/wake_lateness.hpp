// How late the batcher's timer wakes its dispatcher: a running median of recent wake-ups' lateness, so that the
// timer can be armed that much early (batcher_config::max_learned_timer_lead). O(1) and no history: each sample
// moves the estimate one step towards itself (stochastic approximation of the median), by 1/32 of the estimate and
// at least 250 ns. It starts at zero and grows: an estimate too low only leaves a decision late, as with no lead,
// while one too high costs busy waiting.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <chrono>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

class wake_lateness {
 public:
  void record(duration lateness) noexcept {
    lateness = std::max(lateness, duration::zero());
    const duration step = std::max<duration>(min_step, estimate_ / 32);
    if (lateness > estimate_)
      estimate_ += std::min(step, lateness - estimate_);
    else
      estimate_ -= std::min(step, estimate_ - lateness);
  }

  duration estimate() const noexcept { return estimate_; }

 private:
  static constexpr duration min_step = std::chrono::nanoseconds(250);
  duration estimate_ = duration::zero();
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
