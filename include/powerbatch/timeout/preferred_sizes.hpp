// timeout::preferred_sizes — batches of sizes the backend runs best (Triton's preferred_batch_size).
//
// As soon as the largest preferred size (within the cap) is waiting, a batch of exactly that size leaves.
// When the oldest request has waited max_delay, the largest preferred size that is waiting leaves, or, if none
// is, everything waiting (up to the cap). Deadlines flush early, as in size_or_delay.
//
// Models: TimeoutPolicy. Defaults: sizes {8, 16, 32}, max_batch_size 32, max_delay 1 ms.
// Complexity: O(number of preferred sizes) per decision. Thread safety: dispatcher only.
#pragma once

#include <powerbatch/timeout/common.hpp>

#include <algorithm>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace timeout {

struct preferred_sizes {
  struct params {
    std::vector<std::size_t> sizes{8, 16, 32};
    std::size_t max_batch_size = 32;
    duration max_delay = std::chrono::milliseconds(1);
    duration deadline_margin = default_deadline_margin;
  };

  class state {
   public:
    explicit state(const params& p) : params_(p) {
      std::erase(params_.sizes, std::size_t{0});
      std::sort(params_.sizes.begin(), params_.sizes.end());
    }

    decision decide(const lane_view& v) const noexcept {
      const std::size_t cap = effective_cap(params_.max_batch_size, v);
      const std::size_t target = largest_preferred_at_most(cap);
      const std::size_t goal = target == 0 ? cap : target;
      if (v.pending >= goal) return decision::flush(goal, flush_reason::size);

      const time_point window_ends = v.oldest_arrival + params_.max_delay;
      const time_point deadline_at = deadline_flush_at(v, params_.deadline_margin);
      if (v.now >= window_ends || v.now >= deadline_at) {
        const std::size_t fitting = largest_preferred_at_most(std::min(v.pending, cap));
        const std::size_t count = fitting == 0 ? std::min(v.pending, cap) : fitting;
        return decision::flush(count, v.now >= window_ends ? flush_reason::delay : flush_reason::deadline);
      }
      return decision::wait(std::min(window_ends, deadline_at), goal);
    }

   private:
    std::size_t largest_preferred_at_most(std::size_t limit) const noexcept {
      auto it = std::upper_bound(params_.sizes.begin(), params_.sizes.end(), limit);
      return it == params_.sizes.begin() ? 0 : *std::prev(it);
    }

    params params_;
  };
};

}  // namespace timeout
POWERBATCH_END_NAMESPACE
