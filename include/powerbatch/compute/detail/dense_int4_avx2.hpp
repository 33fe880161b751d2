// compute::detail::dense_int4_avx2 — the int4 weight-only dense kernel with AVX2/FMA intrinsics, picked at run time.
//
// Per block of 8 inputs a panel is two 32-byte loads (8 channels x 8 nibbles each, see quantized_dense_int4.hpp).
// Input k's nibbles are masked in place (vpand with 0xF << 4k; k = 7: vpsrld 28) and converted (vcvtdq2ps) to
// (q + 8) * 16^k, exact; the factor 16^-k is folded into x once per call (x' = x * 16^-k, exact), so each weight
// vector costs 2 instructions and is then used by every row of the tile (one broadcast + FMA per row). Per group of
// group_size inputs the tile sums x' * (q + 8) * 16^k = x * (q + 8) from zero, and at the group's end adds
// scale * (that - 8 * sum of x over the group): the scale and offset cost one subtract and one FMA per group,
// not per weight. A first version shifted every nibble (vpslld + vpsrad) and scaled every weight: 4 instructions
// per weight vector, two of them on Zen 2's single shift pipe, and slower than fp32 at batch 1.
//
// Rounding: the group sums carry x * (q + 8), up to 15 |x| per term, and 8 sum(x) is subtracted, so the error scale
// is sum |x| (|q| + 16) scale rather than sum |x q| scale: a few times fp32's, far below the quantisation's.
// Tiles (registers: 16): 4 rows x 1 panel (8 group accumulators; the totals spill to the stack, touched once per
// group; 6 rows spilled the accumulators and ran at half speed), 3-5 rows x 1 panel for a chunk's rest, 1-2 rows x
// 2 panels so that few rows still give 4 independent FMA chains. Loop order as the fp32 kernel: panels in groups
// that fit in L2, every row tile of a 48-row chunk over a group before the next.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/detail/target_avx2.hpp>
#include <powerbatch/compute/detail/vector_math_avx2.hpp>
#include <powerbatch/compute/quantized_dense_int4.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// Grow-only per-thread scratch: the part's rows as x' (stride padded_in, zero padded) and 8 x each group's sum.
struct int4_rows_buffer {
  std::vector<float> x;
  std::vector<float> offsets;
};

inline int4_rows_buffer& thread_int4_rows() {
  thread_local int4_rows_buffer buffer;
  return buffer;
}

// x'[i] = x[i] * 16^-(i % 8) for i % 8 < 7 (nibble 7 is shifted down, so its factor is 1); exact.
POWERBATCH_TARGET_AVX2 inline void prepare_int4_rows(const quantized_dense_int4& layer, const float* x,
                                                     std::size_t rows, float* prepared, float* offsets) noexcept {
  constexpr std::size_t block_inputs = quantized_dense_int4::block;
  alignas(32) static constexpr float factors[block_inputs] = {1.0f,    0x1p-4f,  0x1p-8f,  0x1p-12f,
                                                              0x1p-16f, 0x1p-20f, 0x1p-24f, 1.0f};
  const __m256 factor = _mm256_load_ps(factors);
  const std::size_t in = layer.in_features(), padded_in = layer.padded_in(), group_size = layer.group_size();
  const std::size_t groups = layer.group_count(), full = in / block_inputs * block_inputs;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    float* out = prepared + r * padded_in;
    for (std::size_t i = 0; i < full; i += block_inputs)
      _mm256_store_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(xr + i), factor));
    for (std::size_t i = full; i < padded_in; ++i) out[i] = i < in ? xr[i] * factors[i % block_inputs] : 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
      float sum = 0.0f;
      for (std::size_t i = g * group_size, end = std::min(in, i + group_size); i < end; ++i) sum += xr[i];
      offsets[r * groups + g] = static_cast<float>(quantized_dense_int4::offset) * sum;
    }
  }
}

// Input K of the current block for every vector of the tile.
template <int K, std::size_t Rows, std::size_t Vectors>
POWERBATCH_TARGET_AVX2 inline void dense_int4_avx2_step(const __m256i (&raw)[Vectors], const float* x,
                                                        std::size_t stride, __m256 (&acc)[Rows][Vectors]) noexcept {
#pragma GCC unroll 16
  for (std::size_t v = 0; v < Vectors; ++v) {
    const __m256i nibbles = K == 7 ? _mm256_srli_epi32(raw[v], 28)
                                   : _mm256_and_si256(raw[v], _mm256_set1_epi32(static_cast<int>(0xFu << (4 * K))));
    const __m256 w = _mm256_cvtepi32_ps(nibbles);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r)
      acc[r][v] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * stride + K), w, acc[r][v]);
  }
}

template <std::size_t Rows, std::size_t Vectors, int... K>
POWERBATCH_TARGET_AVX2 inline void dense_int4_avx2_block(const __m256i (&raw)[Vectors], const float* x,
                                                         std::size_t stride, __m256 (&acc)[Rows][Vectors],
                                                         std::integer_sequence<int, K...>) noexcept {
  (dense_int4_avx2_step<K, Rows, Vectors>(raw, x, stride, acc), ...);
}

// x: prepared rows (stride padded_in); offsets: 8 x group sums (stride group_count()).
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX2 inline void dense_int4_avx2_tile(const quantized_dense_int4& layer, const float* x,
                                                        const float* offsets, std::size_t first_panel, float* y,
                                                        activation act) noexcept {
  constexpr std::size_t width = quantized_dense_int4::panel_width;
  constexpr std::size_t block_inputs = quantized_dense_int4::block;
  constexpr std::size_t vectors = 2 * Panels;
  const std::size_t out = layer.out_features(), padded_in = layer.padded_in(), group_size = layer.group_size();
  const std::size_t groups = layer.group_count(), panel_words = layer.panel_words(), scale_stride = groups * width;
  const std::uint32_t* words = layer.panel(first_panel);
  const float* scales = layer.panel_scales(first_panel);
  const float* bias = layer.padded_bias() + first_panel * width;

  __m256 total[Rows][vectors];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < vectors; ++v) total[r][v] = _mm256_load_ps(bias + v * 8);

  for (std::size_t g = 0; g < groups; ++g) {
    __m256 acc[Rows][vectors];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) acc[r][v] = _mm256_setzero_ps();
    const std::size_t end = std::min(padded_in, (g + 1) * group_size);
    for (std::size_t i = g * group_size; i < end; i += block_inputs) {
      __m256i raw[vectors];
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v)
        raw[v] = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(words + (v / 2) * panel_words + (i / block_inputs) * width + (v % 2) * 8));
      dense_int4_avx2_block<Rows, vectors>(raw, x + i, padded_in, acc,
                                           std::make_integer_sequence<int, block_inputs>{});
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < Rows; ++r) {
      const __m256 offset = _mm256_broadcast_ss(offsets + r * groups + g);
#pragma GCC unroll 16
      for (std::size_t v = 0; v < vectors; ++v) {
        const __m256 scale = _mm256_load_ps(scales + (v / 2) * scale_stride + g * width + (v % 2) * 8);
        total[r][v] = _mm256_fmadd_ps(_mm256_sub_ps(acc[r][v], offset), scale, total[r][v]);
      }
    }
  }

  const std::size_t valid = std::min(vectors * 8, out - first_panel * width);
#pragma GCC unroll 16
  for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 16
    for (std::size_t v = 0; v < vectors; ++v) {
      const std::size_t start = v * 8;
      if (start >= valid) break;
      store_first_avx2(y + r * out + first_panel * width + start, apply_activation_avx2(act, total[r][v]),
                       valid - start);
    }
}

// One row tile over panels [panel_begin, panel_end): wide tiles first, single panels for what is left.
template <std::size_t Rows, std::size_t Panels>
POWERBATCH_TARGET_AVX2 inline void dense_int4_avx2_rows(const quantized_dense_int4& layer, const float* x,
                                                        const float* offsets, float* y, activation act,
                                                        std::size_t panel_begin, std::size_t panel_end) noexcept {
  std::size_t p = panel_begin;
  for (; p + Panels <= panel_end; p += Panels) dense_int4_avx2_tile<Rows, Panels>(layer, x, offsets, p, y, act);
  if constexpr (Panels > 1) {
    for (; p < panel_end; ++p) dense_int4_avx2_tile<Rows, 1>(layer, x, offsets, p, y, act);
  }
}

#ifndef POWERBATCH_INT4_ROW_CHUNK
#define POWERBATCH_INT4_ROW_CHUNK 48
#endif
// Rows [row_begin, row_end) x panels [panel_begin, panel_end). Allocates only to grow this thread's scratch.
// Rows go in chunks whose x' (48 x 4 KiB at in = 1024) stays in L2 beside a panel group while every row tile of
// the chunk streams the group.
POWERBATCH_TARGET_AVX2 inline void dense_int4_avx2(const quantized_dense_int4& layer, const float* x, float* y,
                                                   activation act, const block& part) {
  constexpr std::size_t group_bytes = 128 * 1024;
  constexpr std::size_t row_chunk = POWERBATCH_INT4_ROW_CHUNK;
  constexpr std::size_t tile_rows = 4;
  const std::size_t in = layer.in_features(), out = layer.out_features(), padded_in = layer.padded_in();
  const std::size_t groups = layer.group_count();
  const std::size_t chunk_rows = std::min(row_chunk, part.row_end - part.row_begin);
  int4_rows_buffer& buffer = thread_int4_rows();
  // 8 floats of slack to start x' on a 32-byte boundary; padded_in is a multiple of 8, so every row stays aligned.
  if (buffer.x.size() < chunk_rows * padded_in + 8) buffer.x.resize(chunk_rows * padded_in + 8);
  if (buffer.offsets.size() < chunk_rows * groups) buffer.offsets.resize(chunk_rows * groups);
  float* prepared = buffer.x.data();
  prepared += (32 - reinterpret_cast<std::uintptr_t>(prepared) % 32) % 32 / sizeof(float);
  const float* offsets = buffer.offsets.data();
  const std::size_t group = std::max<std::size_t>(1, group_bytes / layer.panel_bytes());

  for (std::size_t chunk = part.row_begin; chunk < part.row_end; chunk += row_chunk) {
    const std::size_t rows = std::min(row_chunk, part.row_end - chunk);
    prepare_int4_rows(layer, x + chunk * in, rows, prepared, buffer.offsets.data());
    float* y_rows = y + chunk * out;
    for (std::size_t g = part.panel_begin; g < part.panel_end; g += group) {
      const std::size_t g_end = std::min(part.panel_end, g + group);
      std::size_t r = 0;
      for (; r + tile_rows <= rows; r += tile_rows)
        dense_int4_avx2_rows<tile_rows, 1>(layer, prepared + r * padded_in, offsets + r * groups, y_rows + r * out,
                                           act, g, g_end);
      const float* xs = prepared + r * padded_in;
      const float* offs = offsets + r * groups;
      switch (rows - r) {
        case 5: dense_int4_avx2_rows<5, 1>(layer, xs, offs, y_rows + r * out, act, g, g_end); break;
        case 4: dense_int4_avx2_rows<4, 1>(layer, xs, offs, y_rows + r * out, act, g, g_end); break;
        case 3: dense_int4_avx2_rows<3, 1>(layer, xs, offs, y_rows + r * out, act, g, g_end); break;
        case 2: dense_int4_avx2_rows<2, 2>(layer, xs, offs, y_rows + r * out, act, g, g_end); break;
        case 1: dense_int4_avx2_rows<1, 2>(layer, xs, offs, y_rows + r * out, act, g, g_end); break;
        default: break;
      }
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
