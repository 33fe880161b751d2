// compute::quantized_dense_int4 — a weight-only int4 dense layer: symmetric per-output-channel, per-group scales,
// fp32 bias; activations stay fp32 (the kernels dequantise weights on the fly and use fp32 FMAs).
//
// Quantisation (done once, by quantize_int4): the input dimension is cut into groups of group_size inputs; for
// channel o and group g, scale[o][g] = max |w[o][i]| / 7 over the group and q[o][i] = round(w[o][i] / scale) in
// [-7, 7] (-8 is never used: the grid stays symmetric, so a weight and its negation quantise alike). An all-zero
// group gets scale 0. The error per weight is at most scale / 2. Why groups: one scale per whole row of 1024
// inputs lets a single outlier flatten every other weight of the row onto a 15-level grid; per 64 inputs the damage
// stays local, for 1/16 of a float per weight (see README, kernels section, for the measured error by group size).
//
// Packed layout: panels of panel_width = 16 output channels. The input dimension is padded to a multiple of 8
// (padded_in) and cut into blocks of 8; for each block a panel stores 16 32-bit words, word c holding channel c's
// eight weights as offset-binary nibbles q + 8 in [1, 15] (input 8b + k in bits [4k, 4k + 4); padding is 0). One
// 32-byte load is then 8 channels x 8 inputs, and input k of all 8 channels is one AND away (mask 0xF << 4k) from
// 8 int32s (q + 8) * 16^k that vcvtdq2ps converts exactly (k = 7: one shift): no shuffles and few shifts (Zen 2 has
// one shift pipe); the kernel folds 16^-k into x and the offset 8 into a per-group sum of x. A panel is one stream,
// read once per tile of rows. Scales are stored per panel and group as 16 floats, the bias padded to whole panels.
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

class quantized_dense_int4 {
 public:
  static constexpr std::size_t panel_width = 16;
  static constexpr std::size_t block = 8;  // inputs per 32-bit word
  static constexpr int max_magnitude = 7;
  static constexpr int offset = 8;  // stored nibble = q + offset
  static constexpr std::size_t default_group_size = 64;

  // Quantises w (PyTorch layout w[out][in]); group_size must be a positive multiple of 8 (a group is whole blocks).
  // Throws std::invalid_argument naming the argument that is wrong.
  quantized_dense_int4(std::span<const float> weights, std::size_t out_features, std::size_t in_features,
                       std::span<const float> bias, std::size_t group_size = default_group_size)
      : in_features_(in_features),
        out_features_(out_features),
        group_size_(group_size),
        padded_in_((in_features + block - 1) / block * block),
        groups_(group_size == 0 ? 0 : (in_features + group_size - 1) / group_size),
        panels_((out_features + panel_width - 1) / panel_width) {
    detail::check_dense_shape("quantize_int4", weights.size(), out_features, in_features, bias.size());
    if (group_size == 0 || group_size % block != 0) {
      throw std::invalid_argument("quantize_int4: group_size (" + std::to_string(group_size) +
                                  ") must be a positive multiple of " + std::to_string(block) +
                                  " (a group is whole 8-input blocks)");
    }
    words_ = detail::aligned_buffer<std::uint32_t>(panels_ * panel_words());
    scales_ = detail::aligned_buffer<float>(panels_ * groups_ * panel_width);
    bias_ = detail::aligned_buffer<float>(panels_ * panel_width);
    for (std::size_t o = 0; o < out_features; ++o) {
      const float* row = weights.data() + o * in_features;
      const std::size_t lane = o % panel_width;
      std::uint32_t* panel = words_.data() + (o / panel_width) * panel_words();
      for (std::size_t g = 0; g < groups_; ++g) {
        const std::size_t begin = g * group_size, end = std::min(in_features, begin + group_size);
        float max_abs = 0.0f;
        for (std::size_t i = begin; i < end; ++i) max_abs = std::max(max_abs, std::fabs(row[i]));
        const float inverse = max_abs > 0.0f ? static_cast<float>(max_magnitude) / max_abs : 0.0f;
        scales_[((o / panel_width) * groups_ + g) * panel_width + lane] = max_abs / static_cast<float>(max_magnitude);
        for (std::size_t i = begin; i < end; ++i) {
          const float q = std::clamp(std::nearbyint(row[i] * inverse), -static_cast<float>(max_magnitude),
                                     static_cast<float>(max_magnitude));
          const auto nibble = static_cast<std::uint32_t>(static_cast<int>(q) + offset);
          panel[(i / block) * panel_width + lane] |= nibble << (4 * (i % block));
        }
      }
      bias_[o] = bias[o];
    }
  }

  std::size_t in_features() const noexcept { return in_features_; }
  std::size_t out_features() const noexcept { return out_features_; }
  std::size_t group_size() const noexcept { return group_size_; }
  std::size_t group_count() const noexcept { return groups_; }
  // Memory the layer holds: packed nibbles (padded), scales and bias.
  std::size_t bytes() const noexcept {
    return words_.size() * sizeof(std::uint32_t) + (scales_.size() + bias_.size()) * sizeof(float);
  }

  // The quantised weight q[o][i] in [-7, 7] and the scale of channel o's group (w[o][i] ~ scale(o, i / group_size())
  // * quantized_weight(o, i)).
  std::int8_t quantized_weight(std::size_t o, std::size_t i) const noexcept {
    const std::uint32_t word = panel(o / panel_width)[(i / block) * panel_width + o % panel_width];
    return static_cast<std::int8_t>(static_cast<int>((word >> (4 * (i % block))) & 0xFu) - offset);
  }
  float scale(std::size_t o, std::size_t group) const noexcept {
    return panel_scales(o / panel_width)[group * panel_width + o % panel_width];
  }

  // The layout, for kernels.
  std::size_t padded_in() const noexcept { return padded_in_; }
  std::size_t panel_count() const noexcept { return panels_; }
  std::size_t panel_words() const noexcept { return padded_in_ / block * panel_width; }
  std::size_t panel_bytes() const noexcept { return panel_words() * sizeof(std::uint32_t); }
  const std::uint32_t* panel(std::size_t p) const noexcept { return words_.data() + p * panel_words(); }
  // Panel p's scales: group g's 16 at [16 g, 16 g + 16).
  const float* panel_scales(std::size_t p) const noexcept { return scales_.data() + p * groups_ * panel_width; }
  const float* padded_bias() const noexcept { return bias_.data(); }

 private:
  std::size_t in_features_;
  std::size_t out_features_;
  std::size_t group_size_;
  std::size_t padded_in_;
  std::size_t groups_;
  std::size_t panels_;
  detail::aligned_buffer<std::uint32_t> words_;
  detail::aligned_buffer<float> scales_;
  detail::aligned_buffer<float> bias_;
};

// Weight-only int4 with per-channel, per-group scales of an fp32 layer (see quantized_dense_int4).
inline quantized_dense_int4 quantize_int4(std::span<const float> weights, std::size_t out_features,
                                          std::size_t in_features, std::span<const float> bias,
                                          std::size_t group_size = quantized_dense_int4::default_group_size) {
  return quantized_dense_int4(weights, out_features, in_features, bias, group_size);
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
