// compute::dense_forward_serial and dense_forward_part — the dense kernels on the calling thread, dispatched to the
// kernel set active_kernel_isa() names (fp32: AVX-512, AVX2 or portable; int8: AVX-512 VNNI, AVX2 or portable).
// No Asio here: dense.hpp adds the thread split on an executor on top.
//
// Contract, for both layer kinds: y[b * out + o] = act(bias[o] + sum_i x[b * in + i] * w[o][i]) with x (batch x
// in) and y (batch x out) row-major; x and y must not overlap. The int8 layer quantises each row of x on the fly
// (per-row symmetric scale, see detail/quantize_rows.hpp) into a per-thread buffer that only ever grows.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/detail/dense_fp32_avx2.hpp>
#include <powerbatch/compute/detail/dense_fp32_avx512.hpp>
#include <powerbatch/compute/detail/dense_fp32_portable.hpp>
#include <powerbatch/compute/detail/dense_int8_avx2.hpp>
#include <powerbatch/compute/detail/dense_int8_avx512_vnni.hpp>
#include <powerbatch/compute/detail/dense_int8_portable.hpp>
#include <powerbatch/compute/detail/quantize_rows.hpp>
#include <powerbatch/compute/kernel_isa.hpp>
#include <powerbatch/compute/packed_dense_fp32.hpp>
#include <powerbatch/compute/quantized_dense_int8.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// Rows [row_begin, row_end) x output panels [panel_begin, panel_end) of one call; the unit dense_forward splits.
inline void dense_forward_part(const packed_dense_fp32& layer, const float* x, float* y, activation act,
                               const detail::block& part, kernel_isa isa) noexcept {
  if (part.row_begin >= part.row_end || part.panel_begin >= part.panel_end) return;
#if POWERBATCH_COMPUTE_X86_DISPATCH
  if (isa >= kernel_isa::avx512) {
    detail::dense_fp32_avx512(layer, x, y, act, part);
    return;
  }
  if (isa == kernel_isa::avx2_fma) {
    detail::dense_fp32_avx2(layer, x, y, act, part);
    return;
  }
#endif
  (void)isa;
  detail::dense_fp32_portable(layer, x, y, act, part);
}

inline void dense_forward_part(const quantized_dense_int8& layer, const float* x, float* y, activation act,
                               const detail::block& part, kernel_isa isa) {
  if (part.row_begin >= part.row_end || part.panel_begin >= part.panel_end) return;
  const std::size_t rows = part.row_end - part.row_begin;
  const std::size_t in = layer.in_features(), padded_in = layer.padded_in();
  const float* x_rows = x + part.row_begin * in;
  float* y_rows = y + part.row_begin * layer.out_features();
  detail::quantized_rows_buffer& buffer = detail::thread_quantized_rows();
  buffer.reserve_rows(rows, padded_in);
#if POWERBATCH_COMPUTE_X86_DISPATCH
  if (isa >= kernel_isa::avx512_vnni) {
    detail::quantize_rows_avx2(x_rows, rows, in, padded_in, buffer.values.data(), buffer.scales.data());
    detail::dense_int8_avx512_vnni(layer, buffer.values.data(), buffer.scales.data(), rows, y_rows, act,
                                   part.panel_begin, part.panel_end);
    return;
  }
  // AVX-512 without VNNI keeps the AVX2 sequence: AVX-512 has no vpsignb for the sign trick.
  if (isa >= kernel_isa::avx2_fma) {
    detail::quantize_rows_avx2(x_rows, rows, in, padded_in, buffer.values.data(), buffer.scales.data());
    detail::dense_int8_avx2(layer, buffer.values.data(), buffer.scales.data(), rows, y_rows, act, part.panel_begin,
                            part.panel_end);
    return;
  }
#endif
  (void)isa;
  detail::quantize_rows_portable(x_rows, rows, in, padded_in, buffer.values.data(), buffer.scales.data());
  detail::dense_int8_portable(layer, buffer.values.data(), buffer.scales.data(), rows, y_rows, act, part.panel_begin,
                              part.panel_end);
}

// The whole batch on the calling thread.
inline void dense_forward_serial(const packed_dense_fp32& layer, const float* x, std::size_t batch, float* y,
                                 activation act) noexcept {
  dense_forward_part(layer, x, y, act, detail::block{0, batch, 0, layer.panel_count()}, active_kernel_isa());
}

// The whole batch on the calling thread. May allocate only to grow this thread's quantisation buffer.
inline void dense_forward_serial(const quantized_dense_int8& layer, const float* x, std::size_t batch, float* y,
                                 activation act) {
  dense_forward_part(layer, x, y, act, detail::block{0, batch, 0, layer.panel_count()}, active_kernel_isa());
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
