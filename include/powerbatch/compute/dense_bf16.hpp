// compute::dense_forward over a packed_dense_bf16 — dense layers with bf16 weights (y = act(x W^T + b), x rounded to
// bf16 per call, fp32 sums), on the calling thread or split over an Asio executor's threads exactly like dense.hpp's
// fp32 and int8 layers.
//
//   auto w16 = quantize_bf16(weights, out, in, bias);     // half the bytes of fp32, 8-bit mantissas
//   dense_forward(w16, x, batch, y, activation::relu);    // x: batch x in, y: batch x out, row-major
//
// Kernels: AVX512-BF16 (vdpbf16ps) when active_kernel_isa() has it, else plain C++ — which is slow: without
// AVX512-BF16 use fp32 layers. Even with it bf16 pays only for memory-bound (small) batches: see
// packed_dense_bf16.hpp for the figures. No allocation in steady state.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/dense.hpp>
#include <powerbatch/compute/detail/bf16_rows.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/detail/dense_bf16_avx512.hpp>
#include <powerbatch/compute/detail/dense_bf16_portable.hpp>
#include <powerbatch/compute/kernel_isa.hpp>
#include <powerbatch/compute/packed_dense_bf16.hpp>
#include <powerbatch/compute/parallel.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// Rows [row_begin, row_end) x output panels [panel_begin, panel_end) of one call (found by dense_forward_split).
// May allocate only to grow this thread's bf16 rows and interleave buffers.
inline void dense_forward_part(const packed_dense_bf16& layer, const float* x, float* y, activation act,
                               const detail::block& part, kernel_isa isa) {
  if (part.row_begin >= part.row_end || part.panel_begin >= part.panel_end) return;
  const std::size_t rows = part.row_end - part.row_begin;
  const std::size_t in = layer.in_features(), padded_in = layer.padded_in();
  const float* x_rows = x + part.row_begin * in;
  float* y_rows = y + part.row_begin * layer.out_features();
  std::vector<std::uint16_t>& rounded = detail::thread_bf16_rows();
  if (rounded.size() < rows * padded_in) rounded.resize(rows * padded_in);
#if POWERBATCH_COMPUTE_X86_DISPATCH
  if (isa >= kernel_isa::avx512_bf16) {
    detail::round_rows_to_bf16_avx512(x_rows, rows, in, padded_in, rounded.data());
    detail::dense_bf16_avx512(layer, rounded.data(), rows, y_rows, act, part.panel_begin, part.panel_end);
    return;
  }
#endif
  (void)isa;
  detail::round_rows_to_bf16(x_rows, rows, in, padded_in, rounded.data());
  detail::dense_bf16_portable(layer, rounded.data(), rows, y_rows, act, part.panel_begin, part.panel_end);
}

// The whole batch on the calling thread.
inline void dense_forward_serial(const packed_dense_bf16& layer, const float* x, std::size_t batch, float* y,
                                 activation act) {
  dense_forward_part(layer, x, y, act, detail::block{0, batch, 0, layer.panel_count()}, active_kernel_isa());
}

// y = act(x W^T + b) for a batch of rows, W in bf16; the thread split of dense.hpp.
inline void dense_forward(const packed_dense_bf16& layer, const float* x, std::size_t batch, float* y,
                          activation act, const parallel_options& options = {}) {
  detail::dense_forward_split(layer, x, batch, y, act, options);
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
