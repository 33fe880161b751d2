// compute::detail::dense_fp32_portable — the fp32 dense kernel written with xsimd for the architecture this TU is
// compiled for (SSE2 on plain x86-64, NEON on AArch64, AVX2 under -mavx2). It is the fallback when no run-time
// path applies and the reference the run-time paths are tested against.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/packed_dense_fp32.hpp>
#include <powerbatch/config.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

#if defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
// No SIMD architecture known to xsimd: plain loops over the same packed layout.
inline void dense_fp32_portable(const packed_dense_fp32& layer, const float* x, float* y, activation act,
                                const block& part) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  for (std::size_t p = part.panel_begin; p < part.panel_end; ++p) {
    const float* panel = layer.panel(p);
    for (std::size_t r = part.row_begin; r < part.row_end; ++r) {
      float acc[width];
      for (std::size_t c = 0; c < width; ++c) acc[c] = layer.padded_bias()[p * width + c];
      for (std::size_t i = 0; i < in; ++i)
        for (std::size_t c = 0; c < width; ++c) acc[c] += x[r * in + i] * panel[i * width + c];
      for (std::size_t c = 0; c < width && p * width + c < out; ++c)
        y[r * out + p * width + c] = apply_activation(act, acc[c]);
    }
  }
}
#else

template <typename Batch>
inline Batch apply_activation_batch(activation act, const Batch& v) noexcept {
  using value = typename Batch::value_type;
  switch (act) {
    case activation::none: return v;
    case activation::relu: return xsimd::max(v, Batch(value(0)));
    case activation::gelu: return value(0.5) * v * (Batch(value(1)) + xsimd::erf(v * value(0.70710678118654752)));
    case activation::sigmoid: return Batch(value(1)) / (Batch(value(1)) + xsimd::exp(-v));
    case activation::tanh: return xsimd::tanh(v);
  }
  return v;
}

// rows x one panel (16 outputs): the accumulators start at the bias, each x[r][i] is broadcast once per panel.
template <std::size_t Rows>
inline void dense_fp32_portable_tile(const float* x, std::size_t in, const float* panel, const float* bias,
                                     float* y, std::size_t out, std::size_t first_column, activation act) noexcept {
  using batch = xsimd::batch<float>;
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  constexpr std::size_t vectors = width / batch::size;
  static_assert(width % batch::size == 0, "the panel width must be a whole number of SIMD vectors");

  batch acc[Rows][vectors];
  for (std::size_t r = 0; r < Rows; ++r)
    for (std::size_t v = 0; v < vectors; ++v) acc[r][v] = batch::load_aligned(bias + v * batch::size);
  for (std::size_t i = 0; i < in; ++i) {
    batch w[vectors];
    for (std::size_t v = 0; v < vectors; ++v) w[v] = batch::load_aligned(panel + i * width + v * batch::size);
    for (std::size_t r = 0; r < Rows; ++r) {
      const batch xb(x[r * in + i]);
      for (std::size_t v = 0; v < vectors; ++v) acc[r][v] = xsimd::fma(xb, w[v], acc[r][v]);
    }
  }
  const std::size_t valid = std::min(width, out - first_column);
  for (std::size_t r = 0; r < Rows; ++r) {
    alignas(64) float result[width];
    for (std::size_t v = 0; v < vectors; ++v)
      apply_activation_batch(act, acc[r][v]).store_aligned(result + v * batch::size);
    std::copy_n(result, valid, y + r * out + first_column);
  }
}

inline void dense_fp32_portable(const packed_dense_fp32& layer, const float* x, float* y, activation act,
                                const block& part) noexcept {
  constexpr std::size_t width = packed_dense_fp32::panel_width;
  constexpr std::size_t rows_per_tile = 4;
  const std::size_t in = layer.in_features(), out = layer.out_features();
  for (std::size_t p = part.panel_begin; p < part.panel_end; ++p) {
    const float* panel = layer.panel(p);
    const float* bias = layer.padded_bias() + p * width;
    std::size_t r = part.row_begin;
    for (; r + rows_per_tile <= part.row_end; r += rows_per_tile)
      dense_fp32_portable_tile<rows_per_tile>(x + r * in, in, panel, bias, y + r * out, out, p * width, act);
    for (; r < part.row_end; ++r) dense_fp32_portable_tile<1>(x + r * in, in, panel, bias, y + r * out, out, p * width, act);
  }
}
#endif

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
