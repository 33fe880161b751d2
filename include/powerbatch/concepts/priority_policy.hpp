// PriorityPolicy: the order in which waiting requests of one batching key leave for a batch.
//
// It runs on the dispatcher only, so its containers need no locks. Requirements, in the order
// diagnose_priority_policy checks them (P is the policy, C = P::container<pending_entry>):
//   1. P::params names a default-constructible type.
//   2. C is constructible from `const P::params&`.
//   3. c.push(const pending_entry&), c.size() -> std::size_t, c.empty() -> bool.
//   4. c.pop(time_point now) -> pending_entry: removes and returns the next entry to dispatch (precondition !empty).
//   5. c.oldest_arrival() -> time_point: the earliest arrival among waiting entries (precondition !empty).
//   6. c.erase_if(pred, sink): removes every entry for which pred(entry) holds, calling sink(entry) for each.
// Optional: c.pop_up_to(n, now, std::vector<pending_entry>& out) -> std::size_t appends up to n entries in the order
// n calls of pop(now) would give them and returns how many; the dispatcher then takes a batch's entries in one call
// (bulk_poppable_priority_container).
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/diagnose.hpp>
#include <powerbatch/request_options.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE

// What a priority container holds for each waiting request: small and trivially copyable, so reordering is cheap.
struct pending_entry {
  std::uint32_t slot = 0;           // where the dispatcher keeps the request itself
  priority_level priority = priority_levels::normal;
  time_point arrival{};             // when it was submitted
  time_point deadline = time_point::max();
  std::uint64_t sequence = 0;       // arrival order as the dispatcher saw it; breaks ties
};

template <class C>
concept priority_container = requires(C& c, const C& cc, const pending_entry& e, time_point now) {
  c.push(e);
  { cc.size() } -> std::convertible_to<std::size_t>;
  { cc.empty() } -> std::convertible_to<bool>;
  { c.pop(now) } -> std::same_as<pending_entry>;
  { cc.oldest_arrival() } -> std::same_as<time_point>;
  c.erase_if([](const pending_entry&) { return false; }, [](const pending_entry&) {});
};

// The optional bulk pop (see above).
template <class C>
concept bulk_poppable_priority_container =
    requires(C& c, std::vector<pending_entry>& out, std::size_t n, time_point now) {
      { c.pop_up_to(n, now, out) } -> std::convertible_to<std::size_t>;
    };

template <class P>
concept priority_policy = std::default_initializable<typename P::params> &&
                          std::constructible_from<typename P::template container<pending_entry>,
                                                  const typename P::params&> &&
                          priority_container<typename P::template container<pending_entry>>;

template <class P>
consteval bool diagnose_priority_policy() {
  if constexpr (!requires { typename P::params; }) {
    static_assert(concepts_detail::dependent_false<P>, "Priority policy must provide a nested `params` struct");
    return false;
  } else if constexpr (!std::default_initializable<typename P::params>) {
    static_assert(concepts_detail::dependent_false<P>, "Priority policy's params must be default-constructible");
    return false;
  } else if constexpr (!requires { typename P::template container<pending_entry>; }) {
    static_assert(concepts_detail::dependent_false<P>,
                  "Priority policy must provide a member template `template <class Entry> class container`");
    return false;
  } else {
    using C = typename P::template container<pending_entry>;
    if constexpr (!std::constructible_from<C, const typename P::params&>) {
      static_assert(concepts_detail::dependent_false<P>,
                    "Priority policy's container must be constructible from `const params&`");
      return false;
    } else if constexpr (!requires(C& c, const C& cc, const pending_entry& e) {
                           c.push(e);
                           { cc.size() } -> std::convertible_to<std::size_t>;
                           { cc.empty() } -> std::convertible_to<bool>;
                         }) {
      static_assert(concepts_detail::dependent_false<P>,
                    "Priority policy's container must provide push(const pending_entry&), size() and empty()");
      return false;
    } else if constexpr (!requires(C& c, time_point now) {
                           { c.pop(now) } -> std::same_as<pending_entry>;
                         }) {
      static_assert(concepts_detail::dependent_false<P>,
                    "Priority policy's container must provide pop(time_point now) -> pending_entry");
      return false;
    } else if constexpr (!requires(const C& c) {
                           { c.oldest_arrival() } -> std::same_as<time_point>;
                         }) {
      static_assert(concepts_detail::dependent_false<P>,
                    "Priority policy's container must provide oldest_arrival() const -> time_point");
      return false;
    } else if constexpr (!priority_container<C>) {
      static_assert(concepts_detail::dependent_false<P>,
                    "Priority policy's container must provide erase_if(predicate, sink)");
      return false;
    } else {
      return true;
    }
  }
}

POWERBATCH_END_NAMESPACE
