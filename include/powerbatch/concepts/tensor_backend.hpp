// Tensor backend: what runs a batch as one [batch, features] block of numbers (a model, a kernel, a remote call).
//
// Requirements, in the order diagnose_tensor_backend checks them (TB is the backend, b a TB, c a const TB):
//   1. TB::element_type names an arithmetic type (float for most models).
//   2. c.input_shape() and c.output_shape() -> convertible to std::span<const std::size_t>: the shape of ONE
//      sample (e.g. {64}, or {8, 8}); its product is the width of a row in the batch views.
//   3. c.max_batch_size() -> std::size_t: the largest batch worth running at once (at least 1).
//   4. b.run(tensor_view<const element_type> in, tensor_view<element_type> out): in is [n, product(input_shape)],
//      out is [n, product(output_shape)], both row-major and contiguous (xtensor adaptors over pooled memory, so
//      in.data() / out.data() give the raw rows to a kernel, and an Eigen::Map fits over them). It may throw.
// Optional: b.warm_up() (seed 002: run once before serving) — see has_warm_up.
//
// backend::tensor_batch (backend/tensor.hpp) turns a tensor backend into a batch_backend the Batcher runs.
#pragma once

#include <powerbatch/concepts/diagnose.hpp>

#include <xtensor/xadapt.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE

// A non-owning row-major 2-D view over contiguous memory: [rows, columns].
template <class T>
using tensor_view = decltype(xt::adapt(std::declval<T*>(), std::size_t{}, xt::no_ownership(),
                                       std::declval<const std::array<std::size_t, 2>&>()));

template <class T>
tensor_view<T> make_tensor_view(T* data, std::size_t rows, std::size_t columns) {
  // The pointer is passed as a prvalue so that xt::adapt stores T*, not a reference to our parameter.
  return xt::adapt(static_cast<T*>(data), rows * columns, xt::no_ownership(),
                   std::array<std::size_t, 2>{rows, columns});
}

template <class TB>
concept tensor_backend =
    requires { typename TB::element_type; } && std::is_arithmetic_v<typename TB::element_type> &&
    requires(const TB& c) {
      { c.input_shape() } -> std::convertible_to<std::span<const std::size_t>>;
      { c.output_shape() } -> std::convertible_to<std::span<const std::size_t>>;
      { c.max_batch_size() } -> std::convertible_to<std::size_t>;
    } &&
    requires(TB& b, tensor_view<const typename TB::element_type> in, tensor_view<typename TB::element_type> out) {
      b.run(in, out);
    };

template <class TB>
concept has_warm_up = requires(TB& b) { b.warm_up(); };

template <class TB>
consteval bool diagnose_tensor_backend() {
  if constexpr (!requires { typename TB::element_type; }) {
    static_assert(concepts_detail::dependent_false<TB>, "Tensor backend must name its number type as `element_type`");
    return false;
  } else if constexpr (!std::is_arithmetic_v<typename TB::element_type>) {
    static_assert(concepts_detail::dependent_false<TB>, "Tensor backend's element_type must be an arithmetic type");
    return false;
  } else if constexpr (!requires(const TB& c) {
                         { c.input_shape() } -> std::convertible_to<std::span<const std::size_t>>;
                         { c.output_shape() } -> std::convertible_to<std::span<const std::size_t>>;
                       }) {
    static_assert(concepts_detail::dependent_false<TB>,
                  "Tensor backend must provide input_shape() and output_shape() const -> std::span<const "
                  "std::size_t>");
    return false;
  } else if constexpr (!requires(const TB& c) {
                         { c.max_batch_size() } -> std::convertible_to<std::size_t>;
                       }) {
    static_assert(concepts_detail::dependent_false<TB>, "Tensor backend must provide max_batch_size() const");
    return false;
  } else if constexpr (!requires(TB& b, tensor_view<const typename TB::element_type> in,
                                 tensor_view<typename TB::element_type> out) { b.run(in, out); }) {
    static_assert(concepts_detail::dependent_false<TB>,
                  "Tensor backend must provide run(tensor_view<const element_type>, tensor_view<element_type>)");
    return false;
  } else {
    return true;
  }
}

POWERBATCH_END_NAMESPACE
