// Pieces every built-in Timeout policy shares: the effective size cap and the deadline rule.
#pragma once

#include <powerbatch/concepts/timeout_policy.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace timeout {

// How long before a request's deadline its batch leaves anyway, so that it can still run.
inline constexpr duration default_deadline_margin = std::chrono::microseconds(200);

// The policy's own size limit, further capped by the lane (backend maximum, power policies); at least 1.
constexpr std::size_t effective_cap(std::size_t policy_max, const lane_view& v) noexcept {
  return std::max<std::size_t>(1, std::min(policy_max, v.max_batch_size));
}

// The instant a lane must flush so its earliest deadline can still be met (max() when nothing has a deadline).
constexpr time_point deadline_flush_at(const lane_view& v, duration margin) noexcept {
  if (v.earliest_deadline == time_point::max()) return time_point::max();
  return v.earliest_deadline - margin;
}

// Size first, then a window measured from the oldest arrival, then deadlines: the shape of most policies.
constexpr decision size_window_deadline(const lane_view& v, std::size_t cap, time_point window_ends,
                                        duration deadline_margin, std::size_t wake_at_pending) noexcept {
  const std::size_t ready = std::min(v.pending, cap);
  if (v.pending >= cap) return decision::flush(cap, flush_reason::size);
  if (v.now >= window_ends) return decision::flush(ready, flush_reason::delay);
  const time_point deadline_at = deadline_flush_at(v, deadline_margin);
  if (v.now >= deadline_at) return decision::flush(ready, flush_reason::deadline);
  return decision::wait(std::min(window_ends, deadline_at), wake_at_pending);
}

}  // namespace timeout
POWERBATCH_END_NAMESPACE
