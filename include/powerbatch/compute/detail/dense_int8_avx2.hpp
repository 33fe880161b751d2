// compute::detail::dense_int8_avx2 — the int8 dense kernel with AVX2 integer dot products, picked at run time.
//
// Per group of 4 inputs, one 32-byte load holds 8 channels x 4 int8 weights and x's 4 int8 values are broadcast.
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into saturating int16, so with both operands
// signed we use the sign trick: maddubs(|w|, sign(x, w)) = sum of w * x, where |w| <= 127 and |x| <= 127 keep
// each pair sum <= 2 * 127 * 127 = 32258 < 32767: no saturation, the result is exact. vpmaddwd with ones widens
// the pairs to int32 and they accumulate exactly (|sum| <= 127 * 127 * in < 2^31 for in < 133 000).
// The epilogue converts, multiplies by row scale x channel scale, adds the bias and applies the activation.
// Tile shapes and loop order are the fp32 kernel's (see dense_fp32_avx2.hpp).
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/target_avx2.hpp>
#include <powerbatch/compute/detail/vector_math_avx2.hpp>
#include <powerbatch/compute/quantized_dense_int8.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX2 inline void dense_int8_avx2_tile(const std::int8_t* q, const float* row_scales,
                                                        std::size_t padded_in, const std::int8_t* first_panel,
                                                        std::size_t panel_bytes, const float* scales,
                                                        const float* bias, float* y, std::size_t out,
                                                        std::size_t first_column, activation act) noexcept {
  constexpr std::size_t width = quantized_dense_int8::panel_width;
  constexpr std::size_t vectors = 2 * Panels;
  const __m256i ones = _mm256_set1_epi16(1);

  __m256i acc[Rows][vectors];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < vectors; ++v) acc[r][v] = _mm256_setzero_si256();

  const std::int8_t* w = first_panel;
  for (std::size_t g = 0; g < padded_in; g += 4, w += 4 * width) {
    __m256i weights[vectors];
    __m256i magnitudes[vectors];
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Panels; ++p) {
      weights[2 * p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + p * panel_bytes));
      weights[2 * p + 1] = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + p * panel_bytes + 32));
      magnitudes[2 * p] = _mm256_abs_epi8(weights[2 * p]);
      magnitudes[2 * p + 1] = _mm256_abs_epi8(weights[2 * p + 1]);
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      std::int32_t four;
      std::memcpy(&four, q + r * padded_in + g, sizeof four);
      const __m256i xb = _mm256_set1_epi32(four);
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        const __m256i pairs = _mm256_maddubs_epi16(magnitudes[v], _mm256_sign_epi8(xb, weights[v]));
        acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(pairs, ones));
      }
    }
  }

  const std::size_t valid = std::min(vectors * 8, out - first_column);
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r) {
    const __m256 row_scale = _mm256_set1_ps(row_scales[r]);
#pragma GCC unroll 16
    for (std::size_t v = 0; v < vectors; ++v) {
      const std::size_t start = v * 8;
      if (start >= valid) break;
      const __m256 scale = _mm256_mul_ps(row_scale, _mm256_load_ps(scales + start));
      const __m256 value = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][v]), scale, _mm256_load_ps(bias + start));
      store_first_avx2(y + r * out + first_column + start, apply_activation_avx2(act, value), valid - start);
    }
  }
}

template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX2 inline void dense_int8_avx2_rows(const quantized_dense_int8& layer, const std::int8_t* q,
                                                        const float* row_scales, float* y, activation act,
                                                        std::size_t panel_begin, std::size_t panel_end) noexcept {
  constexpr std::size_t width = quantized_dense_int8::panel_width;
  const std::size_t padded_in = layer.padded_in(), out = layer.out_features(), bytes = layer.panel_bytes();
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels)
    dense_int8_avx2_tile<Rows, Panels>(q, row_scales, padded_in, layer.panel(p), bytes,
                                       layer.padded_scales() + p * width, layer.padded_bias() + p * width, y, out,
                                       p * width, act);
  if constexpr (Panels > 1) {
    for (; p < panel_end; ++p)
      dense_int8_avx2_tile<Rows, 1>(q, row_scales, padded_in, layer.panel(p), bytes,
                                    layer.padded_scales() + p * width, layer.padded_bias() + p * width, y, out,
                                    p * width, act);
  }
}

// rows quantised rows (stride padded_in) x panels [panel_begin, panel_end) -> y (stride out).
POWERBATCH_TARGET_AVX2 inline void dense_int8_avx2(const quantized_dense_int8& layer, const std::int8_t* q,
                                                   const float* row_scales, std::size_t rows, float* y,
                                                   activation act, std::size_t panel_begin,
                                                   std::size_t panel_end) noexcept {
  constexpr std::size_t group_bytes = 128 * 1024;
  constexpr std::size_t tile_rows = 4;
  const std::size_t padded_in = layer.padded_in(), out = layer.out_features();
  const std::size_t group = std::max<std::size_t>(1, group_bytes / layer.panel_bytes());
  for (std::size_t g = panel_begin; g < panel_end; g += group) {
    const std::size_t g_end = std::min(panel_end, g + group);
    std::size_t r = 0;
    for (; r + tile_rows <= rows; r += tile_rows)
      dense_int8_avx2_rows<tile_rows, 1>(layer, q + r * padded_in, row_scales + r, y + r * out, act, g, g_end);
    switch (rows - r) {
      case 3: dense_int8_avx2_rows<3, 1>(layer, q + r * padded_in, row_scales + r, y + r * out, act, g, g_end); break;
      case 2: dense_int8_avx2_rows<2, 2>(layer, q + r * padded_in, row_scales + r, y + r * out, act, g, g_end); break;
      case 1: dense_int8_avx2_rows<1, 4>(layer, q + r * padded_in, row_scales + r, y + r * out, act, g, g_end); break;
      default: break;
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
