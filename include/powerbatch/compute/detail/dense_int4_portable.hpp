// compute::detail::dense_int4_portable — the int4 weight-only dense kernel in plain C++, for CPUs without a
// run-time path and as the reference the AVX2 path is tested against: the obvious sum of x * (float(q) * scale), in
// input order, from the bias.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/compute/quantized_dense_int4.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// Rows [row_begin, row_end) x panels [panel_begin, panel_end); x: [rows, in], y: [rows, out], row-major.
inline void dense_int4_portable(const quantized_dense_int4& layer, const float* x, float* y, activation act,
                                const block& part) noexcept {
  constexpr std::size_t width = quantized_dense_int4::panel_width;
  constexpr std::size_t block_inputs = quantized_dense_int4::block;
  const std::size_t in = layer.in_features(), out = layer.out_features(), group_size = layer.group_size();
  for (std::size_t p = part.panel_begin; p < part.panel_end; ++p) {
    const std::uint32_t* panel = layer.panel(p);
    const float* scales = layer.panel_scales(p);
    const std::size_t valid = std::min(width, out - p * width);
    for (std::size_t r = part.row_begin; r < part.row_end; ++r) {
      const float* xr = x + r * in;
      float acc[width];
      std::copy_n(layer.padded_bias() + p * width, width, acc);
      for (std::size_t i = 0; i < in; ++i) {
        const std::uint32_t* words = panel + (i / block_inputs) * width;
        const float* scale = scales + (i / group_size) * width;
        const unsigned shift = static_cast<unsigned>(4 * (i % block_inputs));
        for (std::size_t c = 0; c < width; ++c) {
          const int q = static_cast<int>((words[c] >> shift) & 0xFu) - quantized_dense_int4::offset;
          acc[c] += xr[i] * (static_cast<float>(q) * scale[c]);
        }
      }
      for (std::size_t c = 0; c < valid; ++c) y[r * out + p * width + c] = apply_activation(act, acc[c]);
    }
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
