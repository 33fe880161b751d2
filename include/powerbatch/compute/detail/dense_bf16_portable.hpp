// compute::detail::dense_bf16_portable — the bf16 dense kernel in plain C++, for CPUs without AVX512-BF16 and as
// the reference the AVX-512 path is tested against. Sums pairs of exact bf16 products in fp32, as vdpbf16ps does.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/packed_dense_bf16.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// rows bf16 rows (stride padded_in) x panels [panel_begin, panel_end) -> y (stride out).
inline void dense_bf16_portable(const packed_dense_bf16& layer, const std::uint16_t* x, std::size_t rows, float* y,
                                activation act, std::size_t panel_begin, std::size_t panel_end) noexcept {
  constexpr std::size_t width = packed_dense_bf16::panel_width;
  const std::size_t padded_in = layer.padded_in(), out = layer.out_features();
  for (std::size_t p = panel_begin; p < panel_end; ++p) {
    const std::uint16_t* panel = layer.panel(p);
    const std::size_t valid = std::min(width, out - p * width);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::uint16_t* row = x + r * padded_in;
      float acc[width];
      for (std::size_t c = 0; c < width; ++c) acc[c] = layer.padded_bias()[p * width + c];
      for (std::size_t g = 0; g < padded_in; g += 2) {
        const float x0 = from_bf16(row[g]), x1 = from_bf16(row[g + 1]);
        const std::uint16_t* w = panel + g * width;
        for (std::size_t c = 0; c < width; ++c) acc[c] += x0 * from_bf16(w[2 * c]) + x1 * from_bf16(w[2 * c + 1]);
      }
      for (std::size_t c = 0; c < valid; ++c) y[r * out + p * width + c] = apply_activation(act, acc[c]);
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
