// compute::detail::dense_bf16_avx512 — the bf16 dense kernel with AVX512-BF16, picked at run time.
//
// Per pair of inputs a panel's 64 bytes (16 channels x 2 bf16 weights) are one zmm; vdpbf16ps multiplies them by
// the row's broadcast bf16 pair and adds both products into each channel's fp32 accumulator: 32 multiply-adds per
// instruction (twice an fp32 FMA's; but see packed_dense_bf16.hpp: its measured peak is half fp32's). Tiles, row
// interleaving (one 32-bit word, a bf16 pair, per row per step), row chunks and L2 panel groups as in
// dense_int8_avx512_vnni.hpp; accumulators start at the bias.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/dense_fp32_avx512.hpp>
#include <powerbatch/compute/detail/remainder_rows.hpp>
#include <powerbatch/compute/detail/target_avx512.hpp>
#include <powerbatch/compute/packed_dense_bf16.hpp>
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

// x: the tile's rows interleaved, one bf16 pair per row per step: x[g * Rows + r].
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX512_BF16 inline void dense_bf16_avx512_tile(const std::uint32_t* x, std::size_t pairs,
                                                                 const std::uint16_t* first_panel,
                                                                 std::size_t panel_elements, const float* bias,
                                                                 float* y, std::size_t out, std::size_t first_column,
                                                                 activation act) noexcept {
  constexpr std::size_t width = packed_dense_bf16::panel_width;
  __m512 acc[Rows][Panels];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) acc[r][p] = _mm512_load_ps(bias + p * width);

  const std::uint16_t* w = first_panel;
  for (std::size_t g = 0; g < pairs; ++g, w += 2 * width, x += Rows) {
    __m512bh weights[Panels];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) weights[p] = (__m512bh)_mm512_load_si512(w + p * panel_elements);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[r]));
#pragma GCC unroll 16
      for (std::size_t p = 0; p < Panels; ++p) acc[r][p] = _mm512_dpbf16_ps(acc[r][p], xb, weights[p]);
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

template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX512_BF16 inline void dense_bf16_avx512_rows(const packed_dense_bf16& layer,
                                                                 const std::uint32_t* x, float* y, activation act,
                                                                 std::size_t panel_begin,
                                                                 std::size_t panel_end) noexcept {
  constexpr std::size_t width = packed_dense_bf16::panel_width;
  const std::size_t pairs = layer.padded_in() / packed_dense_bf16::group, out = layer.out_features();
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels)
    dense_bf16_avx512_tile<Rows, Panels>(x, pairs, layer.panel(p), layer.panel_elements(),
                                         layer.padded_bias() + p * width, y, out, p * width, act);
  if constexpr (Panels > 1) {
    if (p < panel_end) dense_bf16_avx512_rows<Rows, Panels / 2>(layer, x, y, act, p, panel_end);
  }
}

template <std::size_t Rows>
POWERBATCH_TARGET_AVX512_BF16 inline void dense_bf16_avx512_rows_for(const packed_dense_bf16& layer,
                                                                     const std::uint32_t* x, float* y,
                                                                     activation act, std::size_t panel_begin,
                                                                     std::size_t panel_end) noexcept {
  constexpr std::size_t panels = Rows >= 4 ? 2 : Rows == 3 ? 3 : 4;
  dense_bf16_avx512_rows<Rows, panels>(layer, x, y, act, panel_begin, panel_end);
}

inline std::vector<std::uint32_t>& thread_interleaved_pairs() {
  thread_local std::vector<std::uint32_t> buffer;
  return buffer;
}

// rows bf16 rows (stride padded_in) x panels [panel_begin, panel_end) -> y (stride out). May allocate only to grow
// this thread's interleave buffer.
POWERBATCH_TARGET_AVX512_BF16 inline void dense_bf16_avx512(const packed_dense_bf16& layer, const std::uint16_t* xb,
                                                            std::size_t rows, float* y, activation act,
                                                            std::size_t panel_begin, std::size_t panel_end) {
  constexpr std::size_t group_bytes = 256 * 1024;
  constexpr std::size_t tile_rows = 12;
  constexpr std::size_t row_chunk = 8 * tile_rows;
  const std::size_t padded_in = layer.padded_in(), out = layer.out_features();
  const std::size_t pairs = padded_in / packed_dense_bf16::group;
  std::vector<std::uint32_t>& interleaved = thread_interleaved_pairs();
  if (interleaved.size() < rows * pairs) interleaved.resize(rows * pairs);
  for (std::size_t r = 0; r < rows; r += tile_rows) {
    const std::size_t tile = std::min(tile_rows, rows - r);
    std::uint32_t* dst = interleaved.data() + r * pairs;
    for (std::size_t k = 0; k < tile; ++k) {
      const std::uint16_t* row = xb + (r + k) * padded_in;
      for (std::size_t g = 0; g < pairs; ++g) std::memcpy(&dst[g * tile + k], row + 2 * g, sizeof(std::uint32_t));
    }
  }
  const std::size_t panel_bytes = layer.panel_elements() * sizeof(std::uint16_t);
  for (std::size_t chunk = 0; chunk < rows; chunk += row_chunk) {
    const std::size_t chunk_end = std::min(rows, chunk + row_chunk);
    const std::size_t group = chunk_end - chunk < tile_rows ? panel_end - panel_begin
                                                            : std::max<std::size_t>(2, group_bytes / panel_bytes);
    for (std::size_t g = panel_begin; g < panel_end; g += group) {
      const std::size_t g_end = std::min(panel_end, g + group);
      std::size_t r = chunk;
      for (; r + tile_rows <= chunk_end; r += tile_rows)
        dense_bf16_avx512_rows<tile_rows, 2>(layer, interleaved.data() + r * pairs, y + r * out, act, g, g_end);
      const std::uint32_t* rest = interleaved.data() + r * pairs;
      float* y_rest = y + r * out;
      with_remainder_rows(chunk_end - r, [&]<std::size_t Rows>() {
        dense_bf16_avx512_rows_for<Rows>(layer, rest, y_rest, act, g, g_end);
      });
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
POWERBATCH_AVX512_KERNELS_END

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
