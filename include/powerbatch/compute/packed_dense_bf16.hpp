// compute::packed_dense_bf16 — an fp32 dense layer with its weights rounded to bfloat16, packed for the kernels.
//
// bf16 keeps fp32's exponent and 8 significant bits: half the bytes of fp32, and with AVX512-BF16's vdpbf16ps two
// multiply-adds per fp32 lane per instruction. On the Sapphire Rapids-class Xeon we measured, vdpbf16ps peaks at
// half the zmm FMA rate in flops (79 vs 155 GFLOP/s), so bf16 layers pay where the weights' bytes bound the time
// (batch 1-2 of a 1024-wide MLP: 1.6-1.7x fp32) and cost from batch 16 on (0.6-0.75x). Every path also rounds the
// activations to bf16 per call; a product of two bf16 values is exact in fp32, so the paths differ only in the
// order of the fp32 sums. Rounding is to nearest, ties to even; the relative error per value is at most 2^-8.
//
// Packed layout: panels of panel_width = 16 output channels; the input dimension padded with zeros to an even
// count and cut into pairs; for each pair a panel stores 64 bytes, channel c's two weights at elements [2c, 2c + 1]
// — one zmm, the operand vdpbf16ps takes.
#pragma once

#include <powerbatch/compute/detail/aligned_buffer.hpp>
#include <powerbatch/compute/detail/dense_shape.hpp>
#include <powerbatch/config.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// fp32 -> bf16, round to nearest even (NaN stays a quiet NaN).
constexpr std::uint16_t to_bf16(float value) noexcept {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

constexpr float from_bf16(std::uint16_t value) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(value) << 16);
}

class packed_dense_bf16 {
 public:
  static constexpr std::size_t panel_width = 16;
  static constexpr std::size_t group = 2;  // inputs per vdpbf16ps pair

  // Rounds w (PyTorch layout w[out][in]); throws std::invalid_argument naming the argument whose size is wrong.
  packed_dense_bf16(std::span<const float> weights, std::size_t out_features, std::size_t in_features,
                    std::span<const float> bias)
      : in_features_(in_features),
        out_features_(out_features),
        padded_in_((in_features + group - 1) / group * group),
        panels_((out_features + panel_width - 1) / panel_width) {
    detail::check_dense_shape("quantize_bf16", weights.size(), out_features, in_features, bias.size());
    weights_ = detail::aligned_buffer<std::uint16_t>(panels_ * panel_elements());
    bias_ = detail::aligned_buffer<float>(panels_ * panel_width);
    for (std::size_t o = 0; o < out_features; ++o) {
      std::uint16_t* panel = weights_.data() + (o / panel_width) * panel_elements();
      const std::size_t lane = o % panel_width;
      for (std::size_t i = 0; i < in_features; ++i)
        panel[(i / group) * panel_width * group + lane * group + i % group] = to_bf16(weights[o * in_features + i]);
      bias_[o] = bias[o];
    }
  }

  std::size_t in_features() const noexcept { return in_features_; }
  std::size_t out_features() const noexcept { return out_features_; }
  // Memory the layer holds: padded bf16 weights and the fp32 bias.
  std::size_t bytes() const noexcept { return weights_.size() * sizeof(std::uint16_t) + bias_.size() * sizeof(float); }

  // The weight the kernels use for w[o][i].
  float weight(std::size_t o, std::size_t i) const noexcept {
    return from_bf16(panel(o / panel_width)[(i / group) * panel_width * group + (o % panel_width) * group + i % group]);
  }

  // The layout, for kernels.
  std::size_t padded_in() const noexcept { return padded_in_; }
  std::size_t panel_count() const noexcept { return panels_; }
  std::size_t panel_elements() const noexcept { return padded_in_ * panel_width; }
  const std::uint16_t* panel(std::size_t p) const noexcept { return weights_.data() + p * panel_elements(); }
  const float* padded_bias() const noexcept { return bias_.data(); }

 private:
  std::size_t in_features_;
  std::size_t out_features_;
  std::size_t padded_in_;
  std::size_t panels_;
  detail::aligned_buffer<std::uint16_t> weights_;
  detail::aligned_buffer<float> bias_;
};

// An fp32 layer with its weights rounded to bf16 (see packed_dense_bf16).
inline packed_dense_bf16 quantize_bf16(std::span<const float> weights, std::size_t out_features,
                                       std::size_t in_features, std::span<const float> bias) {
  return packed_dense_bf16(weights, out_features, in_features, bias);
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
