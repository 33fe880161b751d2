// QueuePolicy: where producers put requests before the dispatcher sees them.
//
// Requirements, in the order diagnose_queue_policy checks them (Q is the policy, T a move-only element):
//   1. Q::queue<T> names a type.
//   2. Q::queue<T> is constructible from std::size_t (the capacity it must hold without allocating).
//   3. q.try_push(T&&) -> bool, callable from any thread (one thread if Q::single_producer is true);
//      on false the element must not have been moved from.
//   4. q.try_pop(T&) -> bool, called from the dispatcher only (one consumer).
// T is default-constructible and move-assignable (the batcher's requests are).
// Optional: q.try_pop_bulk(OutputIt out, std::size_t max) -> std::size_t, moving up to `max` elements into an
//           output iterator (the batcher passes one that files them in place), used when present;
//           static constexpr bool Q::single_producer (default false).
#pragma once

#include <powerbatch/concepts/diagnose.hpp>

#include <concepts>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE

template <class Queue, class T>
concept queue_for = std::constructible_from<Queue, std::size_t> && requires(Queue& q, T&& element, T& out) {
  { q.try_push(static_cast<T&&>(element)) } -> std::same_as<bool>;
  { q.try_pop(out) } -> std::same_as<bool>;
};

template <class Q>
concept queue_policy = requires { typename Q::template queue<concepts_detail::move_only_probe>; } &&
                       queue_for<typename Q::template queue<concepts_detail::move_only_probe>,
                                 concepts_detail::move_only_probe>;

// Checked with a pointer; the batcher passes its own output iterator, so implement it as a template.
template <class Q, class T>
concept bulk_poppable_queue = requires(Q& q, T* out, std::size_t max) {
  { q.try_pop_bulk(out, max) } -> std::same_as<std::size_t>;
};

template <class Q>
inline constexpr bool is_single_producer_queue = [] {
  if constexpr (requires { Q::single_producer; }) return static_cast<bool>(Q::single_producer);
  return false;
}();

// The diagnose chain: names the first requirement Q misses. Returns true so it can sit in a static_assert.
template <class Q>
consteval bool diagnose_queue_policy() {
  using probe = concepts_detail::move_only_probe;
  if constexpr (!requires { typename Q::template queue<probe>; }) {
    static_assert(concepts_detail::dependent_false<Q>,
                  "Queue policy must provide a member template `template <class T> class queue`");
    return false;
  } else {
    using queue_type = typename Q::template queue<probe>;
    if constexpr (!std::constructible_from<queue_type, std::size_t>) {
      static_assert(concepts_detail::dependent_false<Q>,
                    "Queue policy's queue<T> must be constructible from std::size_t capacity");
      return false;
    } else if constexpr (!requires(queue_type& q, probe&& e) {
                           { q.try_push(static_cast<probe&&>(e)) } -> std::same_as<bool>;
                         }) {
      static_assert(concepts_detail::dependent_false<Q>, "Queue policy must provide try_push(T&&) -> bool");
      return false;
    } else if constexpr (!requires(queue_type& q, probe& e) {
                           { q.try_pop(e) } -> std::same_as<bool>;
                         }) {
      static_assert(concepts_detail::dependent_false<Q>, "Queue policy must provide try_pop(T&) -> bool");
      return false;
    } else {
      return true;
    }
  }
}

POWERBATCH_END_NAMESPACE
