// compute::detail::dense_fp32_avx512 — the fp32 dense kernel with AVX-512, picked at run time.
//
// A panel (16 outputs) is one zmm. A tile is Rows x Panels accumulators started at the bias; per input it loads
// Panels weight vectors, broadcasts x[r][i] for each row and does Rows x Panels FMAs. Shapes (32 registers):
// 12 x 2 for full tiles (24 accumulators; 14 loads per 24 FMAs, so FMA-bound); fewer rows take up to 4 panels
// to keep several independent chains in flight (FMA latency 4 cycles x 2 pipes).
// Each tile's rows are first interleaved into one stream (x[i * Rows + r]): the broadcasts then read Rows x 4
// contiguous bytes per input. Loop order as in dense_fp32_avx2.hpp: rows in chunks of 48, panels in groups that fit
// in L2 (every AVX-512 core has at least 1 MiB), every row tile of a chunk over a group before the next group is
// touched. Measured on a Xeon and left out: chunks of 96 rows, and software prefetch of the next group into L2
// (both within the run-to-run noise, about 10 %).
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/detail/dense_fp32_avx2.hpp>
#include <powerbatch/compute/detail/remainder_rows.hpp>
#include <powerbatch/compute/detail/target_avx512.hpp>
#include <powerbatch/compute/detail/vector_math_avx2.hpp>
#include <powerbatch/compute/packed_dense_fp32.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_AVX512_KERNELS_BEGIN
POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// Activation on 16 lanes and a store of the first `valid` of them (the epilogue is a small share of the work, so
// it reuses the AVX2 math on two halves).
POWERBATCH_TARGET_AVX512 inline void store_activated_avx512(float* dst, __m512 v, activation act,
                                                            std::size_t valid) noexcept {
  store_first_avx2(dst, apply_activation_avx2(act, _mm512_extractf32x8_ps(v, 0)), valid);
  if (valid > 8) store_first_avx2(dst + 8, apply_activation_avx2(act, _mm512_extractf32x8_ps(v, 1)), valid - 8);
}

// x: the tile's rows interleaved (x[i * Rows + r]).
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX512 inline void dense_fp32_avx512_tile(const float* x, std::size_t in, const float* first_panel,
                                                            const float* bias, float* y, std::size_t out,
                                                            std::size_t first_column, activation act) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  const std::size_t panel_stride = in * width;

  __m512 acc[Rows][Panels];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) acc[r][p] = _mm512_load_ps(bias + p * width);

  const float* w = first_panel;
  for (std::size_t i = 0; i < in; ++i, w += width, x += Rows) {
    __m512 weights[Panels];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) weights[p] = _mm512_load_ps(w + p * panel_stride);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m512 xb = _mm512_set1_ps(x[r]);
#pragma GCC unroll 16
      for (std::size_t p = 0; p < Panels; ++p) acc[r][p] = _mm512_fmadd_ps(xb, weights[p], acc[r][p]);
    }
  }

  const std::size_t valid = std::min(Panels * width, out - first_column);
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) {
      const std::size_t start = p * width;
      if (start >= valid) break;
      store_activated_avx512(y + r * out + first_column + start, acc[r][p], act, valid - start);
    }
}

// One interleaved row tile over panels [panel_begin, panel_end): Panels at a time, then halving for what is left.
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX512 inline void dense_fp32_avx512_rows(const packed_dense_fp32& layer, const float* x, float* y,
                                                            activation act, std::size_t panel_begin,
                                                            std::size_t panel_end) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels)
    dense_fp32_avx512_tile<Rows, Panels>(x, in, layer.panel(p), layer.padded_bias() + p * width, y, out, p * width,
                                         act);
  if constexpr (Panels > 1) {
    if (p < panel_end) dense_fp32_avx512_rows<Rows, Panels / 2>(layer, x, y, act, p, panel_end);
  }
}

// Rows rows of a tile (fewer than a full one at the end of a chunk). At most 4 panels, i.e. 4 weight streams:
// one row is memory-bound, and 1 x 8 panels measured 0.82 of the bandwidth roofline at batch 1 where the AVX2
// kernel's 4 streams reach 0.95.
template <std::size_t Rows>
POWERBATCH_TARGET_AVX512 inline void dense_fp32_avx512_rows_for(const packed_dense_fp32& layer, const float* x,
                                                                float* y, activation act, std::size_t panel_begin,
                                                                std::size_t panel_end) noexcept {
  constexpr std::size_t panels = Rows >= 4 ? 2 : Rows == 3 ? 3 : 4;
  dense_fp32_avx512_rows<Rows, panels>(layer, x, y, act, panel_begin, panel_end);
}

#ifndef POWERBATCH_FP32_AVX512_GROUP_BYTES
#define POWERBATCH_FP32_AVX512_GROUP_BYTES (256 * 1024)
#endif
#ifndef POWERBATCH_FP32_AVX512_ROW_CHUNK
#define POWERBATCH_FP32_AVX512_ROW_CHUNK 48  // a multiple of the 12-row tile
#endif
POWERBATCH_TARGET_AVX512 inline void dense_fp32_avx512(const packed_dense_fp32& layer, const float* x, float* y,
                                                       activation act, const block& part) noexcept {
  constexpr std::size_t tile_rows = 12;
  constexpr std::size_t row_chunk = POWERBATCH_FP32_AVX512_ROW_CHUNK;
  constexpr std::size_t group_bytes = POWERBATCH_FP32_AVX512_GROUP_BYTES;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  const std::size_t panel_bytes = in * packed_dense_fp32::panel_width * sizeof(float);
  const std::size_t group = std::max<std::size_t>(2, group_bytes / panel_bytes);
  std::vector<float>& packed_x = thread_packed_rows();
  if (packed_x.size() < row_chunk * in) packed_x.resize(row_chunk * in);
  for (std::size_t chunk = part.row_begin; chunk < part.row_end; chunk += row_chunk) {
    const std::size_t chunk_end = std::min(part.row_end, chunk + row_chunk);
    for (std::size_t r = chunk; r < chunk_end; r += tile_rows) {
      const std::size_t rows = std::min(tile_rows, chunk_end - r);
      float* tile = packed_x.data() + (r - chunk) * in;
      for (std::size_t i = 0; i < in; ++i)
        for (std::size_t k = 0; k < rows; ++k) tile[i * rows + k] = x[(r + k) * in + i];
    }
    // Fewer rows than a full tile: nothing worth keeping in L2, so one group (and the wide few-row tiles).
    const std::size_t chunk_group = chunk_end - chunk < tile_rows ? part.panel_end - part.panel_begin : group;
    for (std::size_t g = part.panel_begin; g < part.panel_end; g += chunk_group) {
      const std::size_t g_end = std::min(part.panel_end, g + chunk_group);
      std::size_t r = chunk;
      for (; r + tile_rows <= chunk_end; r += tile_rows)
        dense_fp32_avx512_rows<tile_rows, 2>(layer, packed_x.data() + (r - chunk) * in, y + r * out, act, g, g_end);
      const float* rest = packed_x.data() + (r - chunk) * in;
      float* y_rest = y + r * out;
      with_remainder_rows(chunk_end - r, [&]<std::size_t Rows>() {
        dense_fp32_avx512_rows_for<Rows>(layer, rest, y_rest, act, g, g_end);
      });
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
POWERBATCH_AVX512_KERNELS_END

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
