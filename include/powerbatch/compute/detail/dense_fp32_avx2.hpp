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
#include <vector>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// PackedX: x is the tile's rows interleaved (x[i * Rows + r]), one sequential stream; otherwise row-major.
template <std::size_t Rows, std::size_t Panels, bool PackedX = false>
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
      const __m256 xb = _mm256_broadcast_ss(PackedX ? x + i * Rows + r : x + r * in + i);
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
template <std::size_t Rows, std::size_t Panels, bool PackedX = false>
POWERBATCH_TARGET_AVX2 inline void dense_fp32_avx2_rows(const packed_dense_fp32& layer, const float* x, float* y,
                                                        activation act, std::size_t panel_begin,
                                                        std::size_t panel_end) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels)
    dense_fp32_avx2_tile<Rows, Panels, PackedX>(x, in, layer.panel(p), layer.padded_bias() + p * width, y, out, p * width, act);
  if constexpr (Panels > 2) {
    for (; p + 2 <= panel_end; p += 2)
      dense_fp32_avx2_tile<Rows, 2, PackedX>(x, in, layer.panel(p), layer.padded_bias() + p * width, y, out, p * width,
                                             act);
  }
  if constexpr (Panels > 1) {
    for (; p < panel_end; ++p)
      dense_fp32_avx2_tile<Rows, 1, PackedX>(x, in, layer.panel(p), layer.padded_bias() + p * width, y, out, p * width, act);
  }
}

// Grow-only per-thread scratch for interleaved x tiles.
inline std::vector<float>& thread_packed_rows() {
  thread_local std::vector<float> buffer;
  return buffer;
}

#ifndef POWERBATCH_FP32_ROW_CHUNK
#define POWERBATCH_FP32_ROW_CHUNK 48
#endif
#ifndef POWERBATCH_FP32_GROUP_BYTES
#define POWERBATCH_FP32_GROUP_BYTES (128 * 1024)
#endif
POWERBATCH_TARGET_AVX2 inline void dense_fp32_avx2(const packed_dense_fp32& layer, const float* x, float* y,
                                                   activation act, const block& part) noexcept {
  constexpr std::size_t group_bytes = POWERBATCH_FP32_GROUP_BYTES;
  constexpr std::size_t row_chunk = POWERBATCH_FP32_ROW_CHUNK;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  const std::size_t panel_bytes = in * packed_dense_fp32::panel_width * sizeof(float);
  const std::size_t group = std::max<std::size_t>(1, group_bytes / panel_bytes);
  std::vector<float>& packed_x = thread_packed_rows();
  if (packed_x.size() < row_chunk * in) packed_x.resize(row_chunk * in);
  for (std::size_t chunk = part.row_begin; chunk < part.row_end; chunk += row_chunk) {
    const std::size_t chunk_end = std::min(part.row_end, chunk + row_chunk);
    // A chunk of fewer than 6 rows is one tile per panel: nothing to keep in L2, so no grouping (which would also
    // cut the wide few-row tiles down to one panel).
    const std::size_t chunk_group = chunk_end - chunk < 6 ? part.panel_end - part.panel_begin : group;
    // The chunk's 6-row tiles, each interleaved into one stream: the broadcasts then read 24 contiguous bytes per
    // input instead of touching 6 rows 4 KiB apart, which the prefetchers serve poorly at large batch.
    for (std::size_t r = chunk; r + 6 <= chunk_end; r += 6) {
      float* tile = packed_x.data() + (r - chunk) * in;
      for (std::size_t i = 0; i < in; ++i)
        for (std::size_t k = 0; k < 6; ++k) tile[i * 6 + k] = x[(r + k) * in + i];
    }
    for (std::size_t g = part.panel_begin; g < part.panel_end; g += chunk_group) {
      const std::size_t g_end = std::min(part.panel_end, g + chunk_group);
      std::size_t r = chunk;
      for (; r + 6 <= chunk_end; r += 6) {
        const float* packed_rows = packed_x.data() + (r - chunk) * in;
        dense_fp32_avx2_rows<6, 1, true>(layer, packed_rows, y + r * out, act, g, g_end);
      }
      switch (chunk_end - r) {
        case 5: dense_fp32_avx2_rows<5, 1>(layer, x + r * in, y + r * out, act, g, g_end); break;
        case 4: dense_fp32_avx2_rows<4, 1>(layer, x + r * in, y + r * out, act, g, g_end); break;
        case 3: dense_fp32_avx2_rows<3, 2>(layer, x + r * in, y + r * out, act, g, g_end); break;
        case 2: dense_fp32_avx2_rows<2, 2>(layer, x + r * in, y + r * out, act, g, g_end); break;
        case 1: dense_fp32_avx2_rows<1, 4>(layer, x + r * in, y + r * out, act, g, g_end); break;
        default: break;
      }
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
