// timeout::aimd — Clipper's adaptive batch size: additive increase while batches meet the latency objective,
// multiplicative decrease when one misses it. Waiting follows size_or_delay with the adapted size as the cap.
//
// Models: TimeoutPolicy with on_batch_complete. Defaults: objective 10 ms of service time per batch, start at 4,
// +1 per full batch that met it, x0.9 on a miss (Clipper's 10 % back-off), between 1 and max_batch_size 256,
// max_delay 1 ms. Complexity: O(1). Thread safety: dispatcher only.
#pragma once

#include <powerbatch/timeout/common.hpp>

#include <algorithm>
#include <chrono>

POWERBATCH_BEGIN_NAMESPACE
namespace timeout {

struct aimd {
  struct params {
    duration latency_objective = std::chrono::milliseconds(10);
    std::size_t initial_batch_size = 4;
    std::size_t additive_step = 1;
    double backoff = 0.9;
    std::size_t max_batch_size = 256;
    duration max_delay = std::chrono::milliseconds(1);
    duration deadline_margin = default_deadline_margin;
  };

  class state {
   public:
    explicit state(const params& p)
        : params_(p),
          limit_(static_cast<double>(std::clamp<std::size_t>(p.initial_batch_size, 1, std::max<std::size_t>(1, p.max_batch_size)))) {}

    decision decide(const lane_view& v) const noexcept {
      const std::size_t cap = effective_cap(current_limit(), v);
      return size_window_deadline(v, cap, v.oldest_arrival + params_.max_delay, params_.deadline_margin, cap);
    }

    void on_batch_complete(const batch_feedback& f) noexcept {
      if (f.failed || f.batch_size == 0) return;
      if (f.service_time > params_.latency_objective) {
        limit_ = std::max(1.0, limit_ * params_.backoff);
      } else if (f.batch_size >= current_limit()) {
        limit_ = std::min(static_cast<double>(params_.max_batch_size),
                          limit_ + static_cast<double>(params_.additive_step));
      }
    }

    std::size_t current_limit() const noexcept { return static_cast<std::size_t>(limit_); }

   private:
    params params_;
    double limit_;
  };
};

}  // namespace timeout
POWERBATCH_END_NAMESPACE
