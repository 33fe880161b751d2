// compute::quantized_dense_int8 — an int8 dense layer: symmetric per-output-channel weights, fp32 scales and bias.
//
// Quantisation (done once, by quantize_int8): scale[o] = max_i |w[o][i]| / 127 and q[o][i] = round(w[o][i] /
// scale[o]) in [-127, 127] (-128 is never used, so |q| fits the unsigned operand of vpmaddubsw). An all-zero row
// gets scale 0. The error per weight is at most scale[o] / 2.
//
// Packed layout: panels of panel_width = 16 output channels. The input dimension is padded with zeros to a
// multiple of 4 (padded_in) and cut into groups of 4; for each group a panel stores 64 bytes: channel c's four
// weights at bytes [4c, 4c + 4). One 32-byte load then holds 8 channels x 4 inputs, the shape vpmaddubsw +
// vpmaddwd (and AVX-512 VNNI's vpdpbusd, on 64 bytes: 16 channels) reduce to int32 sums.
//
// Each channel's weight sum is kept too: vpdpbusd multiplies unsigned by signed bytes, so the VNNI kernel feeds it
// x + 128 and subtracts 128 x sum_i q[o][i] afterwards.
#pragma once

#include <powerbatch/compute/detail/aligned_buffer.hpp>
#include <powerbatch/compute/detail/dense_shape.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

class quantized_dense_int8 {
 public:
  static constexpr std::size_t panel_width = 16;
  static constexpr std::size_t group = 4;  // inputs per 4-byte dot-product group
  static constexpr int max_magnitude = 127;
  // The int32 sums stay exact while 127 * 127 * padded_in < 2^31.
  static constexpr std::size_t max_in_features = 133'000;

  // Quantises w (PyTorch layout w[out][in]); throws std::invalid_argument naming the argument whose size is wrong.
  quantized_dense_int8(std::span<const float> weights, std::size_t out_features, std::size_t in_features,
                       std::span<const float> bias)
      : in_features_(in_features),
        out_features_(out_features),
        padded_in_((in_features + group - 1) / group * group),
        panels_((out_features + panel_width - 1) / panel_width) {
    detail::check_dense_shape("quantize_int8", weights.size(), out_features, in_features, bias.size());
    if (in_features > max_in_features) {
      throw std::invalid_argument("quantize_int8: in_features (" + std::to_string(in_features) +
                                  ") is above " + std::to_string(max_in_features) +
                                  ", where 127 x 127 x in_features could overflow the int32 accumulators");
    }
    weights_ = detail::aligned_buffer<std::int8_t>(panels_ * panel_bytes());
    scales_ = detail::aligned_buffer<float>(panels_ * panel_width);
    bias_ = detail::aligned_buffer<float>(panels_ * panel_width);
    weight_sums_ = detail::aligned_buffer<std::int32_t>(panels_ * panel_width);
    for (std::size_t o = 0; o < out_features; ++o) {
      const float* row = weights.data() + o * in_features;
      float max_abs = 0.0f;
      for (std::size_t i = 0; i < in_features; ++i) max_abs = std::max(max_abs, std::fabs(row[i]));
      const float scale = max_abs / static_cast<float>(max_magnitude);
      const float inverse = max_abs > 0.0f ? static_cast<float>(max_magnitude) / max_abs : 0.0f;
      std::int8_t* panel = weights_.data() + (o / panel_width) * panel_bytes();
      const std::size_t lane = o % panel_width;
      std::int32_t sum = 0;
      for (std::size_t i = 0; i < in_features; ++i) {
        const float q = std::clamp(std::nearbyint(row[i] * inverse), -static_cast<float>(max_magnitude),
                                   static_cast<float>(max_magnitude));
        panel[(i / group) * panel_width * group + lane * group + i % group] = static_cast<std::int8_t>(q);
        sum += static_cast<std::int32_t>(q);
      }
      weight_sums_[o] = sum;
      scales_[o] = scale;
      bias_[o] = bias[o];
    }
  }

  std::size_t in_features() const noexcept { return in_features_; }
  std::size_t out_features() const noexcept { return out_features_; }
  // Memory the layer holds: padded int8 weights, scales, bias and weight sums.
  std::size_t bytes() const noexcept {
    return weights_.size() + (scales_.size() + bias_.size()) * sizeof(float) +
           weight_sums_.size() * sizeof(std::int32_t);
  }

  // The quantised weight q[o][i] and channel scale (w[o][i] ~ scale(o) * quantized_weight(o, i)).
  std::int8_t quantized_weight(std::size_t o, std::size_t i) const noexcept {
    return panel(o / panel_width)[(i / group) * panel_width * group + (o % panel_width) * group + i % group];
  }
  float scale(std::size_t o) const noexcept { return scales_[o]; }

  // The layout, for kernels.
  std::size_t padded_in() const noexcept { return padded_in_; }
  std::size_t panel_count() const noexcept { return panels_; }
  std::size_t panel_bytes() const noexcept { return padded_in_ * panel_width; }
  const std::int8_t* panel(std::size_t p) const noexcept { return weights_.data() + p * panel_bytes(); }
  const float* padded_scales() const noexcept { return scales_.data(); }
  const float* padded_bias() const noexcept { return bias_.data(); }
  // sum_i q[o][i] per channel (|sum| <= 127 x in fits int32), zero beyond out_features.
  const std::int32_t* padded_weight_sums() const noexcept { return weight_sums_.data(); }

 private:
  std::size_t in_features_;
  std::size_t out_features_;
  std::size_t padded_in_;
  std::size_t panels_;
  detail::aligned_buffer<std::int8_t> weights_;
  detail::aligned_buffer<float> scales_;
  detail::aligned_buffer<float> bias_;
  detail::aligned_buffer<std::int32_t> weight_sums_;
};

// Symmetric per-output-channel int8 quantisation of an fp32 layer (see quantized_dense_int8).
inline quantized_dense_int8 quantize_int8(std::span<const float> weights, std::size_t out_features,
                                          std::size_t in_features, std::span<const float> bias) {
  return quantized_dense_int8(weights, out_features, in_features, bias);
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
