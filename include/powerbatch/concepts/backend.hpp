// Backend: what runs a batch.
//
// Requirements, in the order diagnose_backend checks them (B is the backend):
//   1. B::input_type and B::output_type name types; output_type is default-constructible and movable.
//   2. b.run(std::span<input_type> inputs, std::span<output_type> outputs) runs one batch; outputs has the same
//      length as inputs and outputs[i] answers inputs[i]. It may throw: only that batch fails.
// Optional: b.max_batch_size() -> std::size_t, the largest batch worth sending (caps every Timeout policy).
//           b.accepts(const input_type&) const -> bool, checked at submission on the caller's thread: a request it
//           refuses completes at once with errc::invalid_argument and never joins (and so never fails) a batch.
//           It must be thread-safe.
#pragma once

#include <powerbatch/concepts/diagnose.hpp>

#include <concepts>
#include <cstddef>
#include <span>

POWERBATCH_BEGIN_NAMESPACE

template <class B>
concept batch_backend = requires {
  typename B::input_type;
  typename B::output_type;
} && std::default_initializable<typename B::output_type> && std::movable<typename B::output_type> &&
                  std::movable<typename B::input_type> &&
                  requires(B& b, std::span<typename B::input_type> in, std::span<typename B::output_type> out) {
                    b.run(in, out);
                  };

template <class B>
concept has_max_batch_size = requires(const B& b) {
  { b.max_batch_size() } -> std::convertible_to<std::size_t>;
};

template <class B>
concept validates_input = requires(const B& b, const typename B::input_type& input) {
  { b.accepts(input) } -> std::convertible_to<bool>;
};

template <class B>
consteval bool diagnose_backend() {
  if constexpr (!requires { typename B::input_type; }) {
    static_assert(concepts_detail::dependent_false<B>, "Backend must name its request type as `input_type`");
    return false;
  } else if constexpr (!requires { typename B::output_type; }) {
    static_assert(concepts_detail::dependent_false<B>, "Backend must name its result type as `output_type`");
    return false;
  } else if constexpr (!std::default_initializable<typename B::output_type> ||
                       !std::movable<typename B::output_type>) {
    static_assert(concepts_detail::dependent_false<B>,
                  "Backend's output_type must be default-constructible and movable");
    return false;
  } else if constexpr (!std::movable<typename B::input_type>) {
    static_assert(concepts_detail::dependent_false<B>, "Backend's input_type must be movable");
    return false;
  } else if constexpr (!requires(B& b, std::span<typename B::input_type> in,
                                 std::span<typename B::output_type> out) { b.run(in, out); }) {
    static_assert(concepts_detail::dependent_false<B>,
                  "Backend must provide run(std::span<input_type>, std::span<output_type>)");
    return false;
  } else {
    return true;
  }
}

POWERBATCH_END_NAMESPACE
