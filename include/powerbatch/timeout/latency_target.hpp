// timeout::latency_target — seed 000's DynamicBatcher: wait for more requests only while the oldest one can still
// finish within target_latency, predicting the batch's service time with an online fit t(n) = a*n + b.
//
// Flush when: the cap is reached; or waited + t(pending + 1) would exceed target_latency (one more request would
// make the oldest late); or the oldest has waited max_wait; or a deadline needs it. The fit is an exponentially
// weighted least-squares line over observed (batch size, service time) pairs, so it follows a backend whose speed
// drifts (thermal throttling, contention); until two distinct sizes are seen it keeps the prior's slope.
//
// Models: TimeoutPolicy with on_batch_complete. Defaults: target 10 ms, max_wait 5 ms, max_batch_size 32,
// prior t(n) = 50 us * n + 200 us, forgetting factor 0.95. Complexity: O(1). Thread safety: dispatcher only.
#pragma once

#include <powerbatch/timeout/common.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

POWERBATCH_BEGIN_NAMESPACE
namespace timeout {

// Exponentially weighted least-squares fit of y = a*x + b.
class linear_cost_fit {
 public:
  linear_cost_fit(double slope, double intercept, double forgetting) noexcept
      : a_(slope), b_(intercept), forgetting_(forgetting) {}

  void observe(double x, double y) noexcept {
    w_ = w_ * forgetting_ + 1.0;
    sx_ = sx_ * forgetting_ + x;
    sy_ = sy_ * forgetting_ + y;
    sxx_ = sxx_ * forgetting_ + x * x;
    sxy_ = sxy_ * forgetting_ + x * y;
    const double mean_x = sx_ / w_;
    const double mean_y = sy_ / w_;
    const double spread = sxx_ / w_ - mean_x * mean_x;
    // Distinct sizes seen: fit both terms; otherwise keep the slope and move the intercept to the data.
    if (spread > 1e-9 * std::max(1.0, mean_x * mean_x)) a_ = std::max(0.0, (sxy_ / w_ - mean_x * mean_y) / spread);
    b_ = std::max(0.0, mean_y - a_ * mean_x);
  }

  double slope() const noexcept { return a_; }
  double intercept() const noexcept { return b_; }
  double predict(double x) const noexcept { return a_ * x + b_; }

 private:
  double a_, b_, forgetting_;
  double w_ = 0, sx_ = 0, sy_ = 0, sxx_ = 0, sxy_ = 0;
};

struct latency_target {
  struct params {
    duration target_latency = std::chrono::milliseconds(10);
    duration max_wait = std::chrono::milliseconds(5);
    std::size_t max_batch_size = 32;
    duration prior_per_item = std::chrono::microseconds(50);
    duration prior_fixed = std::chrono::microseconds(200);
    double forgetting = 0.95;
    duration deadline_margin = default_deadline_margin;
  };

  class state {
   public:
    explicit state(const params& p)
        : params_(p),
          fit_(static_cast<double>(p.prior_per_item.count()), static_cast<double>(p.prior_fixed.count()),
               p.forgetting) {}

    decision decide(const lane_view& v) const noexcept {
      const std::size_t cap = effective_cap(params_.max_batch_size, v);
      if (v.pending >= cap) return decision::flush(cap, flush_reason::size);
      // Latest moment to start so that the oldest request, joined by one more, still meets the target.
      const duration next_cost = predicted(std::min(v.pending + 1, cap));
      const time_point budget_ends = v.oldest_arrival + params_.target_latency - next_cost;
      const time_point window_ends = std::min(budget_ends, v.oldest_arrival + params_.max_wait);
      const time_point deadline_at = deadline_flush_at(v, std::max(params_.deadline_margin, predicted(v.pending)));
      if (v.now >= window_ends) return decision::flush(v.pending, flush_reason::delay);
      if (v.now >= deadline_at) return decision::flush(v.pending, flush_reason::deadline);
      return decision::wait(std::min(window_ends, deadline_at), cap);
    }

    void on_batch_complete(const batch_feedback& f) noexcept {
      if (!f.failed && f.batch_size > 0)
        fit_.observe(static_cast<double>(f.batch_size), static_cast<double>(f.service_time.count()));
    }

    // t(n) as currently fitted.
    duration predicted(std::size_t n) const noexcept {
      return duration(static_cast<duration::rep>(std::llround(fit_.predict(static_cast<double>(n)))));
    }
    const linear_cost_fit& fit() const noexcept { return fit_; }

   private:
    params params_;
    linear_cost_fit fit_;
  };
};

}  // namespace timeout
POWERBATCH_END_NAMESPACE
