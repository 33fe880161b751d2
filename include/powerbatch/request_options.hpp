// Per-request options: priority, deadline and batching key.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <cstdint>
#include <optional>

POWERBATCH_BEGIN_NAMESPACE

// Priority 0 is the most urgent. Strict-level policies clamp larger values to their lowest level.
using priority_level = std::uint8_t;

namespace priority_levels {
inline constexpr priority_level high = 0;
inline constexpr priority_level normal = 1;
inline constexpr priority_level low = 2;
}  // namespace priority_levels

// Requests with different keys never share a batch (seed 000: only compatible requests are combined).
using batching_key = std::uint64_t;

struct request_options {
  priority_level priority = priority_levels::normal;
  // Absolute deadline; a request still waiting at this instant completes with errc::deadline_expired.
  std::optional<time_point> deadline;
  // Relative alternative to `deadline`, measured from submission. If both are set the earlier one wins.
  std::optional<duration> timeout;
  batching_key key = 0;

  // Fluent helpers so a call site reads `request_options{}.with_priority(high).with_timeout(5ms)`.
  request_options& with_priority(priority_level p) noexcept { return priority = p, *this; }
  request_options& with_deadline(time_point t) noexcept { return deadline = t, *this; }
  request_options& with_timeout(duration d) noexcept { return timeout = d, *this; }
  request_options& with_key(batching_key k) noexcept { return key = k, *this; }

  // The effective deadline for a request submitted at `now` (time_point::max() when there is none).
  time_point effective_deadline(time_point now) const noexcept {
    time_point result = deadline.value_or(time_point::max());
    if (timeout && now + *timeout < result) result = now + *timeout;
    return result;
  }
};

// Why a batch left the queue. Counted per batch in the batcher's statistics.
enum class flush_reason : std::uint8_t {
  size,      // the batch reached the size the Timeout policy asked for
  delay,     // the oldest request waited max_delay (or the policy's window)
  deadline,  // a request's deadline forced the batch out early
  priority,  // a high-priority request asked for an immediate flush
  thermal,   // a thermal or power reaction shaped this batch
  shutdown,  // drained at shutdown
  count_
};

inline constexpr std::size_t flush_reason_count = static_cast<std::size_t>(flush_reason::count_);

inline constexpr const char* to_string(flush_reason r) noexcept {
  switch (r) {
    case flush_reason::size: return "size";
    case flush_reason::delay: return "delay";
    case flush_reason::deadline: return "deadline";
    case flush_reason::priority: return "priority";
    case flush_reason::thermal: return "thermal";
    case flush_reason::shutdown: return "shutdown";
    case flush_reason::count_: break;
  }
  return "unknown";
}

POWERBATCH_END_NAMESPACE
