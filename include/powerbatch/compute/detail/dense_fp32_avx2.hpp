// compute::detail::dense_fp32_avx2 — the fp32 dense kernel with AVX2/FMA intrinsics, picked at run time.
//
// A tile is Rows batch rows x Panels panels of 16 outputs, held in Rows x 2 x Panels ymm accumulators that start
// at the bias; per input i it broadcasts x[r][i] once and does 2 x Panels FMAs per row. Shapes (registers: 16):
//   6 x 1 panel: 12 accumulators, 2 weight vectors, 1 broadcast — FMA-bound (8 loads per 12 FMAs), for big batches;
//   2 x 2, 1 x 4: 8 independent accumulator chains, enough to hide FMA latency, for the memory-bound small batches.
// Loop order: panels are taken in groups that fit in L2 (~128 KiB), and every row tile of the part runs over a
// group before the next group is touched, so each weight comes from memory once per call, whatever the batch.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/detail/target_avx2.hpp>
#include <powerbatch/compute/detail/vector_math_avx2.hpp>
#include <powerbatch/compute/packed_dense_fp32.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX2 inline void dense_fp32_avx2_tile(const float* x, std::size_t in, const float* first_panel,
                                                        const float* bias, float* y, std::size_t out,
                                                        std::size_t first_column, activation act) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  constexpr std::size_t vectors = 2 * Panels;
  const std::size_t panel_stride = in * width;

  __m256 acc[Rows][vectors];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < vectors; ++v) acc[r][v] = _mm256_load_ps(bias + v * 8);

  const float* w = first_panel;
  for (std::size_t i = 0; i < in; ++i, w += width) {
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m256 xb = _mm256_broadcast_ss(x + r * in + i);
#pragma GCC unroll 16
      for (std::size_t p = 0; p < Panels; ++p) {
        acc[r][2 * p] = _mm256_fmadd_ps(xb, _mm256_load_ps(w + p * panel_stride), acc[r][2 * p]);
        acc[r][2 * p + 1] = _mm256_fmadd_ps(xb, _mm256_load_ps(w + p * panel_stride + 8), acc[r][2 * p + 1]);
      }
    }
  }

  const std::size_t valid = std::min(vectors * 8, out - first_column);
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < vectors; ++v) {
      const std::size_t start = v * 8;
      if (start >= valid) break;
      store_first_avx2(y + r * out + first_column + start, apply_activation_avx2(act, acc[r][v]), valid - start);
    }
}

// One row tile over panels [panel_begin, panel_end): wide tiles first, single panels for what is left.
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX2 inline void dense_fp32_avx2_rows(const packed_dense_fp32& layer, const float* x, float* y,
                                                        activation act, std::size_t panel_begin,
                                                        std::size_t panel_end) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels)
    dense_fp32_avx2_tile<Rows, Panels>(x, in, layer.panel(p), layer.padded_bias() + p * width, y, out, p * width, act);
  if constexpr (Panels > 1) {
    for (; p < panel_end; ++p)
      dense_fp32_avx2_tile<Rows, 1>(x, in, layer.panel(p), layer.padded_bias() + p * width, y, out, p * width, act);
  }
}

POWERBATCH_TARGET_AVX2 inline void dense_fp32_avx2(const packed_dense_fp32& layer, const float* x, float* y,
                                                   activation act, const block& part) noexcept {
  constexpr std::size_t group_bytes = 128 * 1024;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  const std::size_t panel_bytes = in * packed_dense_fp32::panel_width * sizeof(float);
  const std::size_t group = std::max<std::size_t>(1, group_bytes / panel_bytes);
  for (std::size_t g = part.panel_begin; g < part.panel_end; g += group) {
    const std::size_t g_end = std::min(part.panel_end, g + group);
    std::size_t r = part.row_begin;
    for (; r + 6 <= part.row_end; r += 6) dense_fp32_avx2_rows<6, 1>(layer, x + r * in, y + r * out, act, g, g_end);
    switch (part.row_end - r) {
      case 5: dense_fp32_avx2_rows<5, 1>(layer, x + r * in, y + r * out, act, g, g_end); break;
      case 4: dense_fp32_avx2_rows<4, 1>(layer, x + r * in, y + r * out, act, g, g_end); break;
      case 3: dense_fp32_avx2_rows<3, 1>(layer, x + r * in, y + r * out, act, g, g_end); break;
      case 2: dense_fp32_avx2_rows<2, 2>(layer, x + r * in, y + r * out, act, g, g_end); break;
      case 1: dense_fp32_avx2_rows<1, 4>(layer, x + r * in, y + r * out, act, g, g_end); break;
      default: break;
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
