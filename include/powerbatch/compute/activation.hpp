// compute::activation — the element-wise functions a dense layer fuses into its output, their names, and the
// scalar definitions every kernel must agree with (the SIMD paths approximate these to a few float ulps).
//
// gelu is the exact (erf) form, PyTorch's nn.GELU() default, not the tanh approximation.
#pragma once

#include <powerbatch/config.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

enum class activation : std::uint8_t { none, relu, gelu, sigmoid, tanh };

constexpr std::string_view to_string(activation a) noexcept {
  switch (a) {
    case activation::none: return "none";
    case activation::relu: return "relu";
    case activation::gelu: return "gelu";
    case activation::sigmoid: return "sigmoid";
    case activation::tanh: return "tanh";
  }
  return "unknown";
}

// Accepts exactly the names to_string produces, plus "identity"/"linear" for none (common in exported configs).
constexpr std::optional<activation> activation_from_string(std::string_view name) noexcept {
  if (name == "none" || name == "identity" || name == "linear") return activation::none;
  if (name == "relu") return activation::relu;
  if (name == "gelu") return activation::gelu;
  if (name == "sigmoid") return activation::sigmoid;
  if (name == "tanh") return activation::tanh;
  return std::nullopt;
}

// The scalar definition, used for tails and by the portable kernels' epilogue where no vector form is cheaper.
inline float apply_activation(activation a, float v) noexcept {
  switch (a) {
    case activation::none: return v;
    case activation::relu: return v > 0.0f ? v : 0.0f;
    case activation::gelu: return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
    case activation::sigmoid: return 1.0f / (1.0f + std::exp(-v));
    case activation::tanh: return std::tanh(v);
  }
  return v;
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
