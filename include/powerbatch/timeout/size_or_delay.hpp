// timeout::size_or_delay — flush at max_batch_size, or once the oldest request has waited max_delay
// (Triton's max_batch_size + max_queue_delay; seed 000's batch size 10 or 2 s timeout).
//
// Models: TimeoutPolicy. Defaults: max_batch_size 32, max_delay 1 ms, deadline_margin 200 us.
// Complexity: O(1) per decision. Thread safety: dispatcher only.
#pragma once

#include <powerbatch/timeout/common.hpp>

POWERBATCH_BEGIN_NAMESPACE
namespace timeout {

struct size_or_delay {
  struct params {
    std::size_t max_batch_size = 32;
    duration max_delay = std::chrono::milliseconds(1);
    duration deadline_margin = default_deadline_margin;
  };

  class state {
   public:
    explicit state(const params& p) : params_(p) {}

    decision decide(const lane_view& v) const noexcept {
      const std::size_t cap = effective_cap(params_.max_batch_size, v);
      return size_window_deadline(v, cap, v.oldest_arrival + params_.max_delay, params_.deadline_margin, cap);
    }

   private:
    params params_;
  };
};

}  // namespace timeout
POWERBATCH_END_NAMESPACE
