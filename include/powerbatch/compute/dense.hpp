// compute::dense_forward — fp32 and int8 dense layers (y = act(x W^T + b)), on the calling thread or split over
// threads of an Asio executor. The header to include for the dense-layer API.
//
//   packed_dense_fp32 layer(weights, out, in, bias);      // PyTorch nn.Linear layout, packed once
//   dense_forward(layer, x, batch, y, activation::relu);  // x: batch x in, y: batch x out, row-major
//   auto q = quantize_int8(weights, out, in, bias);       // per-channel int8; dynamic per-row activations
//   dense_forward(q, x, batch, y, activation::none, {pool.get_executor(), 2});
//
// Kernels: kernel_isa.hpp (AVX2+FMA picked at run time, else xsimd's default architecture). Thread split and its
// no-deadlock protocol: parallel.hpp. No per-call allocation in steady state.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/dense_kernels.hpp>
#include <powerbatch/compute/kernel_isa.hpp>
#include <powerbatch/compute/packed_dense_fp32.hpp>
#include <powerbatch/compute/parallel.hpp>
#include <powerbatch/compute/quantized_dense_int8.hpp>
#include <powerbatch/compute/softmax.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

namespace detail {
template <typename Layer>
void dense_forward_split(const Layer& layer, const float* x, std::size_t batch, float* y, activation act,
                         const parallel_options& options) {
  const kernel_isa isa = active_kernel_isa();
  const std::size_t panels = layer.panel_count();
  const split_plan plan = plan_split(batch, layer.in_features(), layer.out_features(), panels, options);
  if (plan.parts <= 1) {
    dense_forward_part(layer, x, y, act, block{0, batch, 0, panels}, isa);
    return;
  }
  auto part = [&](std::size_t k) noexcept { dense_forward_part(layer, x, y, act, plan.part(k, batch, panels), isa); };
  run_split(options, plan.parts, part);
}
}  // namespace detail

// y = act(x W^T + b) for a batch of rows; see dense_kernels.hpp for the exact contract.
inline void dense_forward(const packed_dense_fp32& layer, const float* x, std::size_t batch, float* y,
                          activation act, const parallel_options& options = {}) {
  detail::dense_forward_split(layer, x, batch, y, act, options);
}

// The int8 layer: rows quantised per call, int32 dot products, dequantise + bias + activation fused.
inline void dense_forward(const quantized_dense_int8& layer, const float* x, std::size_t batch, float* y,
                          activation act, const parallel_options& options = {}) {
  detail::dense_forward_split(layer, x, batch, y, act, options);
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
