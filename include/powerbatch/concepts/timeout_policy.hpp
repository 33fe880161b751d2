// TimeoutPolicy: decides, for one batching key, whether to run a batch now and how large, or when to look again.
//
// Requirements, in the order diagnose_timeout_policy checks them (T is the policy):
//   1. T::params names a default-constructible type.
//   2. T::state is constructible from `const T::params&` (one state per batching key).
//   3. s.decide(const lane_view&) -> decision.
// Optional: s.on_batch_complete(const batch_feedback&) — called on the dispatcher after each of the lane's batches,
//           for policies that learn (latency fit, AIMD).
//           static constexpr bool tolerates_late_wakeups = true — the policy's decisions may leave late on purpose
//           (power profiles with a wake tolerance), so the batcher learns no timer lead for it by default: the busy
//           wait would spend what the tolerance saves (batcher_config::max_learned_timer_lead).
//
// decide() is called on the dispatcher whenever a decision might change: requests arrived, the armed instant
// passed, a batch completed. It must not block. When the batcher must flush anyway (a high-priority request, a
// drain shutdown) it asks decide() with now = time_point::max() only to learn the batch size the policy allows,
// so add durations to arrival times, never to `now`. The batcher expires past-deadline requests before calling it and
// flushes high-priority requests itself (configurable), so a policy only handles its own rule.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/diagnose.hpp>
#include <powerbatch/request_options.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <limits>

POWERBATCH_BEGIN_NAMESPACE

// What a Timeout policy sees of one batching key's waiting requests.
struct lane_view {
  std::size_t pending = 0;                          // requests waiting (> 0 whenever decide() is called)
  time_point oldest_arrival{};                      // arrival of the oldest waiting request
  time_point earliest_deadline = time_point::max(); // earliest deadline among them (max() if none)
  time_point now{};                                 // the dispatcher's current time
  std::size_t max_batch_size = std::numeric_limits<std::size_t>::max();  // hard cap (backend, power policies)
  std::size_t in_flight = 0;           // batches of this batcher running now, all lanes together
  std::size_t pending_deferrable = 0;  // of `pending`, requests with priority >= priority_levels::low
};

// The policy's answer: flush `flush_count` requests now, or wait until `wake_at` or until `wake_at_pending`
// requests are waiting, whichever comes first — and, if `recheck_on_batch_complete`, until one of the batcher's
// running batches finishes (a policy that limits batches in flight waits on that).
struct decision {
  std::size_t flush_count = 0;
  flush_reason reason = flush_reason::size;
  time_point wake_at = time_point::max();
  std::size_t wake_at_pending = std::numeric_limits<std::size_t>::max();
  bool recheck_on_batch_complete = false;

  static constexpr decision flush(std::size_t count, flush_reason why) noexcept {
    return decision{count, why, time_point::max(), std::numeric_limits<std::size_t>::max(), false};
  }
  static constexpr decision wait(time_point until, std::size_t until_pending) noexcept {
    return decision{0, flush_reason::size, until, until_pending, false};
  }
  // Wait until a running batch finishes (or `until`, whichever is first); arrivals do not wake the dispatcher.
  static constexpr decision wait_for_batch(time_point until = time_point::max()) noexcept {
    return decision{0, flush_reason::size, until, std::numeric_limits<std::size_t>::max(), true};
  }
  constexpr bool flushes() const noexcept { return flush_count > 0; }
};

// What the dispatcher reports back after a lane's batch ran.
struct batch_feedback {
  std::size_t batch_size = 0;
  duration service_time{};  // time the backend spent on the batch
  duration queue_time{};    // how long the batch's oldest request waited before dispatch
  bool failed = false;      // the backend threw
};

template <class T>
concept timeout_policy = std::default_initializable<typename T::params> &&
                         std::constructible_from<typename T::state, const typename T::params&> &&
                         requires(typename T::state& s, const lane_view& v) {
                           { s.decide(v) } -> std::same_as<decision>;
                         };

template <class S>
concept learns_from_feedback = requires(S& s, const batch_feedback& f) { s.on_batch_complete(f); };

template <class T>
concept tolerates_late_wakeups = requires {
  { T::tolerates_late_wakeups } -> std::convertible_to<bool>;
} && static_cast<bool>(T::tolerates_late_wakeups);

template <class T>
consteval bool diagnose_timeout_policy() {
  if constexpr (!requires { typename T::params; }) {
    static_assert(concepts_detail::dependent_false<T>, "Timeout policy must provide a nested `params` struct");
    return false;
  } else if constexpr (!std::default_initializable<typename T::params>) {
    static_assert(concepts_detail::dependent_false<T>, "Timeout policy's params must be default-constructible");
    return false;
  } else if constexpr (!requires { typename T::state; }) {
    static_assert(concepts_detail::dependent_false<T>,
                  "Timeout policy must provide a nested `state` type (one per batching key)");
    return false;
  } else if constexpr (!std::constructible_from<typename T::state, const typename T::params&>) {
    static_assert(concepts_detail::dependent_false<T>,
                  "Timeout policy's state must be constructible from `const params&`");
    return false;
  } else if constexpr (!requires(typename T::state& s, const lane_view& v) {
                         { s.decide(v) } -> std::same_as<decision>;
                       }) {
    static_assert(concepts_detail::dependent_false<T>,
                  "Timeout policy's state must provide decide(const lane_view&) -> decision");
    return false;
  } else {
    return true;
  }
}

POWERBATCH_END_NAMESPACE
