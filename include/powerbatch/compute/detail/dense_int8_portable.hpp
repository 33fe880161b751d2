// compute::detail::dense_int8_portable — the int8 dense kernel in plain C++ (int32 dot products the compiler may
// vectorise), for CPUs without a run-time path and as the reference the AVX2 path is tested against.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/quantized_dense_int8.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// rows quantised rows (stride padded_in, scales per row) x panels [panel_begin, panel_end) -> y (stride out).
inline void dense_int8_portable(const quantized_dense_int8& layer, const std::int8_t* q, const float* row_scales,
                                std::size_t rows, float* y, activation act, std::size_t panel_begin,
                                std::size_t panel_end) noexcept {
  constexpr std::size_t width = quantized_dense_int8::panel_width;
  constexpr std::size_t group = quantized_dense_int8::group;
  const std::size_t padded_in = layer.padded_in(), out = layer.out_features();
  for (std::size_t p = panel_begin; p < panel_end; ++p) {
    const std::int8_t* panel = layer.panel(p);
    const std::size_t valid = std::min(width, out - p * width);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::int8_t* x = q + r * padded_in;
      std::int32_t acc[width] = {};
      for (std::size_t g = 0; g < padded_in; g += group) {
        const std::int8_t* w = panel + g * width;
        for (std::size_t c = 0; c < width; ++c)
          for (std::size_t k = 0; k < group; ++k) acc[c] += std::int32_t{x[g + k]} * std::int32_t{w[c * group + k]};
      }
      for (std::size_t c = 0; c < valid; ++c) {
        const float scale = row_scales[r] * layer.padded_scales()[p * width + c];
        y[r * out + p * width + c] =
            apply_activation(act, static_cast<float>(acc[c]) * scale + layer.padded_bias()[p * width + c]);
      }
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
