// compute::detail::dense_int8_avx512_vnni — the int8 dense kernel with AVX-512 VNNI, picked at run time.
//
// Per group of 4 inputs a panel's 64 bytes (16 channels x 4 weights) are one zmm, and vpdpbusd adds the four
// products of each channel into its int32 lane in one instruction (the AVX2 path needs sign, maddubs, madd, add
// for half as many). vpdpbusd takes its first operand unsigned, so x's bytes go in as x + 128 (x ^ 0x80) and the
// epilogue subtracts 128 x sum_i q[o][i]; the accumulators may wrap, but the true sum fits int32, so the wrapped
// difference is exact. The epilogue then dequantises (row scale x channel scale), adds the bias and activates.
// Tiles: 12 rows x 2 panels (24 accumulators) for full tiles, more panels for fewer rows; each tile's rows are
// interleaved (4 bytes per row per group) into one stream. Panels in groups that fit in L2, as the other kernels.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/dense_fp32_avx512.hpp>
#include <powerbatch/compute/detail/remainder_rows.hpp>
#include <powerbatch/compute/detail/target_avx512.hpp>
#include <powerbatch/compute/quantized_dense_int8.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_AVX512_KERNELS_BEGIN
POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// Per-tile pointers into the layer, starting at the tile's first channel.
struct int8_tile_epilogue {
  const float* row_scales;
  const float* scales;
  const float* bias;
  const std::int32_t* weight_sums;
};

// x: the tile's rows interleaved, one 32-bit word (4 offset bytes) per row per group: x[g * Rows + r].
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX512_VNNI inline void dense_int8_vnni_tile(const std::int32_t* x, std::size_t groups,
                                                               const std::int8_t* first_panel,
                                                               std::size_t panel_bytes, const int8_tile_epilogue& e,
                                                               float* y, std::size_t out, std::size_t first_column,
                                                               activation act) noexcept {
  constexpr std::size_t width = quantized_dense_int8::panel_width;
  __m512i acc[Rows][Panels];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) acc[r][p] = _mm512_setzero_si512();

  const std::int8_t* w = first_panel;
  for (std::size_t g = 0; g < groups; ++g, w += 4 * width, x += Rows) {
    __m512i weights[Panels];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) weights[p] = _mm512_load_si512(w + p * panel_bytes);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m512i xb = _mm512_set1_epi32(x[r]);
#pragma GCC unroll 16
      for (std::size_t p = 0; p < Panels; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], xb, weights[p]);
    }
  }

  const std::size_t valid = std::min(Panels * width, out - first_column);
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r) {
    const __m512 row_scale = _mm512_set1_ps(e.row_scales[r]);
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) {
      const std::size_t start = p * width;
      if (start >= valid) break;
      const __m512i offset = _mm512_slli_epi32(_mm512_load_si512(e.weight_sums + start), 7);
      const __m512 sum = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][p], offset));
      const __m512 scale = _mm512_mul_ps(row_scale, _mm512_load_ps(e.scales + start));
      store_activated_avx512(y + r * out + first_column + start,
                             _mm512_fmadd_ps(sum, scale, _mm512_load_ps(e.bias + start)), act, valid - start);
    }
  }
}

template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX512_VNNI inline void dense_int8_vnni_rows(const quantized_dense_int8& layer,
                                                               const std::int32_t* x, const float* row_scales,
                                                               float* y, activation act, std::size_t panel_begin,
                                                               std::size_t panel_end) noexcept {
  constexpr std::size_t width = quantized_dense_int8::panel_width;
  const std::size_t groups = layer.padded_in() / quantized_dense_int8::group, out = layer.out_features();
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels) {
    const int8_tile_epilogue e{row_scales, layer.padded_scales() + p * width, layer.padded_bias() + p * width,
                               layer.padded_weight_sums() + p * width};
    dense_int8_vnni_tile<Rows, Panels>(x, groups, layer.panel(p), layer.panel_bytes(), e, y, out, p * width, act);
  }
  if constexpr (Panels > 1) {
    if (p < panel_end) dense_int8_vnni_rows<Rows, Panels / 2>(layer, x, row_scales, y, act, p, panel_end);
  }
}

template <std::size_t Rows>
POWERBATCH_TARGET_AVX512_VNNI inline void dense_int8_vnni_rows_for(const quantized_dense_int8& layer,
                                                                   const std::int32_t* x, const float* row_scales,
                                                                   float* y, activation act, std::size_t panel_begin,
                                                                   std::size_t panel_end) noexcept {
  constexpr std::size_t panels = Rows >= 4 ? 2 : Rows == 3 ? 3 : 4;
  dense_int8_vnni_rows<Rows, panels>(layer, x, row_scales, y, act, panel_begin, panel_end);
}

inline std::vector<std::int32_t>& thread_interleaved_groups() {
  thread_local std::vector<std::int32_t> buffer;
  return buffer;
}

// rows quantised rows (stride padded_in) x panels [panel_begin, panel_end) -> y (stride out). May allocate only
// to grow this thread's interleave buffer.
POWERBATCH_TARGET_AVX512_VNNI inline void dense_int8_avx512_vnni(const quantized_dense_int8& layer,
                                                                 const std::int8_t* q, const float* row_scales,
                                                                 std::size_t rows, float* y, activation act,
                                                                 std::size_t panel_begin, std::size_t panel_end) {
  constexpr std::size_t group_bytes = 256 * 1024;
  constexpr std::size_t tile_rows = 12;
  constexpr std::size_t row_chunk = 8 * tile_rows;
  const std::size_t padded_in = layer.padded_in(), out = layer.out_features();
  const std::size_t groups = padded_in / quantized_dense_int8::group;
  std::vector<std::int32_t>& interleaved = thread_interleaved_groups();
  if (interleaved.size() < rows * groups) interleaved.resize(rows * groups);
  for (std::size_t r = 0; r < rows; r += tile_rows) {
    const std::size_t tile = std::min(tile_rows, rows - r);
    std::int32_t* dst = interleaved.data() + r * groups;
    for (std::size_t k = 0; k < tile; ++k) {
      const std::int8_t* row = q + (r + k) * padded_in;
      for (std::size_t g = 0; g < groups; ++g) {
        std::uint32_t word;
        std::memcpy(&word, row + g * quantized_dense_int8::group, sizeof word);
        dst[g * tile + k] = static_cast<std::int32_t>(word ^ 0x80808080u);
      }
    }
  }
  // Rows in chunks, so a panel group and the chunk's rows stay in L2 together (measured: 256 rows in one pass ran
  // at 0.64 of the roofline against 0.9 at 128).
  for (std::size_t chunk = 0; chunk < rows; chunk += row_chunk) {
    const std::size_t chunk_end = std::min(rows, chunk + row_chunk);
    const std::size_t group = chunk_end - chunk < tile_rows
                                  ? panel_end - panel_begin
                                  : std::max<std::size_t>(2, group_bytes / layer.panel_bytes());
    for (std::size_t g = panel_begin; g < panel_end; g += group) {
      const std::size_t g_end = std::min(panel_end, g + group);
      std::size_t r = chunk;
      for (; r + tile_rows <= chunk_end; r += tile_rows)
        dense_int8_vnni_rows<tile_rows, 2>(layer, interleaved.data() + r * groups, row_scales + r, y + r * out, act,
                                           g, g_end);
      const std::int32_t* rest = interleaved.data() + r * groups;
      float* y_rest = y + r * out;
      const float* s_rest = row_scales + r;
      with_remainder_rows(chunk_end - r, [&]<std::size_t Rows>() {
        dense_int8_vnni_rows_for<Rows>(layer, rest, s_rest, y_rest, act, g, g_end);
      });
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
POWERBATCH_AVX512_KERNELS_END

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
