// How late the batcher's timer wakes its dispatcher, from its last 128 wake-ups, and so how early to arm it
// (batcher_config::max_learned_timer_lead, flush_lateness_target). The lead is the larger of
//   - the median lateness: half the timed decisions then come on time, for a busy wait of about a µs on average
//     where wake-ups are steady;
//   - the 99th percentile less the target: where the wake-ups' tail is long (the Xeon VM's: median 14-34 µs, p99
//     50-113 µs) the median leaves more than 1 % of decisions later than the target.
// Wake-ups later than the limit plus the target are left out: no lead within the limit would have put them on time,
// and counting them would only drive the lead to its limit.
// Why a window and not a running estimate: a stochastic-approximation estimate of a 99th percentile climbs by small
// steps, and simulated on wake-ups like the Xeon VM's it took a hundred wake-ups or more to get there, each of them
// late meanwhile; the window's figure is right after about 100 wake-ups and follows a machine whose wake-ups change
// within 128. Below 100 wake-ups the 99th percentile is their maximum, which errs towards busy waiting.
// Cost: 1 KiB, and two selections over at most 128 values per timer fire (well under a µs, against a wake-up's tens).
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

class wake_lateness {
 public:
  static constexpr std::size_t window = 128;

  // target: how late a timed decision may come at the 99th percentile; limit: the largest lead to learn.
  wake_lateness(duration target, duration limit) noexcept : target_(target), limit_(limit) {}

  void record(duration lateness) noexcept {
    samples_[recorded_ % window] = std::max(lateness, duration::zero());  // a clock step back counts as on time
    ++recorded_;
    const std::size_t recorded = recorded_ < window ? static_cast<std::size_t>(recorded_) : window;
    std::array<duration, window> ranked;
    // Saturating: a target of duration::max() asks for the median alone.
    const duration fixable = target_ > duration::max() - limit_ ? duration::max() : limit_ + target_;
    const auto end = std::copy_if(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(recorded),
                                  ranked.begin(), [fixable](duration d) { return d <= fixable; });
    const auto n = static_cast<std::size_t>(end - ranked.begin());
    if (n == 0) {
      p99_ = median_ = duration::zero();
      return;
    }
    // The (k + 1)-th largest of n, with k = n / 100 above it: at most 1 % of the window is later. Then the median,
    // from the part below it.
    const std::size_t rank = n - 1 - n / 100;
    std::nth_element(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(rank), end);
    p99_ = ranked[rank];
    const std::size_t middle = (n - 1) / 2;
    if (middle < rank)
      std::nth_element(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(middle),
                       ranked.begin() + static_cast<std::ptrdiff_t>(rank));
    median_ = ranked[middle];
  }

  // Of the wake-ups a lead could have put on time; zero until the first is recorded.
  duration p99() const noexcept { return p99_; }
  duration median() const noexcept { return median_; }

  // How early to arm the timer: the larger of the median and the 99th percentile less the target, within the limit.
  duration lead() const noexcept {
    return std::max(duration::zero(), std::min(std::max(median_, p99_ - target_), limit_));
  }

 private:
  duration target_;
  duration limit_;
  std::array<duration, window> samples_{};
  std::uint64_t recorded_ = 0;
  duration p99_ = duration::zero();
  duration median_ = duration::zero();
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
