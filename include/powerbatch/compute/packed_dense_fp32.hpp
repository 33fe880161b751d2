// compute::packed_dense_fp32 — an fp32 dense layer's weights, repacked once into the order the kernels stream.
//
// Input is PyTorch nn.Linear layout (w[out][in] row-major, bias[out]). The packed layout is panels of
// panel_width = 16 output channels: panel p holds, for each input i in order, the 16 weights w[16p..16p+15][i]
// (zero beyond out_features). A kernel tile then reads one contiguous stream per panel and turns each x[b][i] into
// 16 outputs with two 8-wide FMAs (AVX2) or four 4-wide ones (SSE2/NEON), and every weight is read once per tile
// of rows, not once per row. The bias is padded the same way so tiles start their accumulators from it.
#pragma once

#include <powerbatch/compute/detail/aligned_buffer.hpp>
#include <powerbatch/compute/detail/dense_shape.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>
#include <span>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

class packed_dense_fp32 {
 public:
  static constexpr std::size_t panel_width = 16;

  // Throws std::invalid_argument naming the argument whose size is wrong.
  packed_dense_fp32(std::span<const float> weights, std::size_t out_features, std::size_t in_features,
                    std::span<const float> bias)
      : in_features_(in_features), out_features_(out_features), panels_((out_features + panel_width - 1) / panel_width) {
    detail::check_dense_shape("packed_dense_fp32", weights.size(), out_features, in_features, bias.size());
    weights_ = detail::aligned_buffer<float>(panels_ * in_features_ * panel_width);
    bias_ = detail::aligned_buffer<float>(panels_ * panel_width);
    for (std::size_t o = 0; o < out_features; ++o) {
      float* panel = weights_.data() + (o / panel_width) * in_features_ * panel_width;
      const std::size_t lane = o % panel_width;
      for (std::size_t i = 0; i < in_features; ++i) panel[i * panel_width + lane] = weights[o * in_features + i];
      bias_[o] = bias[o];
    }
  }

  std::size_t in_features() const noexcept { return in_features_; }
  std::size_t out_features() const noexcept { return out_features_; }
  // Memory the packed layer holds (padded weights and bias).
  std::size_t bytes() const noexcept { return (weights_.size() + bias_.size()) * sizeof(float); }

  // The layout, for kernels.
  std::size_t panel_count() const noexcept { return panels_; }
  const float* panel(std::size_t p) const noexcept { return weights_.data() + p * in_features_ * panel_width; }
  const float* padded_bias() const noexcept { return bias_.data(); }

 private:
  std::size_t in_features_;
  std::size_t out_features_;
  std::size_t panels_;
  detail::aligned_buffer<float> weights_;
  detail::aligned_buffer<float> bias_;
};

}  // namespace compute
POWERBATCH_END_NAMESPACE
