// compute::dense_forward over a quantized_dense_int4 — weight-only int4 dense layers (y = act(x W^T + b), W
// dequantised on the fly, fp32 activations and sums), on the calling thread or split over an Asio executor's threads
// exactly like dense.hpp's fp32 and int8 layers.
//
//   auto q = quantize_int4(weights, out, in, bias);       // per-channel, per-64-input-group scales, 4 bits/weight
//   dense_forward(q, x, batch, y, activation::relu);      // x: batch x in, y: batch x out, row-major
//
// Kernels: AVX2+FMA when active_kernel_isa() has it (any higher set includes it), else plain C++. No allocation in
// steady state (a per-thread scratch for the rows grows to the largest batch seen).
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/dense.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/detail/dense_int4_avx2.hpp>
#include <powerbatch/compute/detail/dense_int4_portable.hpp>
#include <powerbatch/compute/kernel_isa.hpp>
#include <powerbatch/compute/parallel.hpp>
#include <powerbatch/compute/quantized_dense_int4.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// Rows [row_begin, row_end) x output panels [panel_begin, panel_end) of one call (found by dense_forward_split).
// May allocate only to grow this thread's scratch for the rows (the AVX2 kernel's x').
inline void dense_forward_part(const quantized_dense_int4& layer, const float* x, float* y, activation act,
                               const detail::block& part, kernel_isa isa) {
  if (part.row_begin >= part.row_end || part.panel_begin >= part.panel_end) return;
#if POWERBATCH_COMPUTE_X86_DISPATCH
  if (isa >= kernel_isa::avx2_fma) {
    detail::dense_int4_avx2(layer, x, y, act, part);
    return;
  }
#endif
  (void)isa;
  detail::dense_int4_portable(layer, x, y, act, part);
}

// The whole batch on the calling thread. May allocate only to grow this thread's scratch.
inline void dense_forward_serial(const quantized_dense_int4& layer, const float* x, std::size_t batch, float* y,
                                 activation act) {
  dense_forward_part(layer, x, y, act, detail::block{0, batch, 0, layer.panel_count()}, active_kernel_isa());
}

// y = act(x W^T + b) for a batch of rows (dense_kernels.hpp's contract); large batches split over threads.
inline void dense_forward(const quantized_dense_int4& layer, const float* x, std::size_t batch, float* y,
                          activation act, const parallel_options& options = {}) {
  detail::dense_forward_split(layer, x, batch, y, act, options);
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
