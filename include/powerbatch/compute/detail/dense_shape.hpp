// compute::detail::check_dense_shape — the argument checks every dense layer's constructor makes, with messages
// that name the entry point and the argument that is wrong.
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// Builds the message naming what is wrong; out of line so the check below stays small enough to inline.
[[noreturn]] inline void throw_dense_shape_error(std::string_view who, std::size_t weights, std::size_t out_features,
                                                 std::size_t in_features, std::size_t bias) {
  const std::string name(who);
  if (out_features == 0 || in_features == 0) {
    throw std::invalid_argument(name + ": out_features (" + std::to_string(out_features) + ") and in_features (" +
                                std::to_string(in_features) + ") must both be at least 1");
  }
  if (weights != out_features * in_features) {
    throw std::invalid_argument(name + ": weights has " + std::to_string(weights) +
                                " floats, expected out_features x in_features = " + std::to_string(out_features) +
                                " x " + std::to_string(in_features) + " = " +
                                std::to_string(out_features * in_features) + " (PyTorch layout w[out][in])");
  }
  throw std::invalid_argument(name + ": bias has " + std::to_string(bias) + " floats, expected out_features = " +
                              std::to_string(out_features));
}

// Throws std::invalid_argument unless out_features and in_features are at least 1, the weights hold
// out_features x in_features floats (PyTorch layout w[out][in]) and the bias out_features. The test is inline so
// the compiler knows those sizes afterwards (GCC's -Warray-bounds otherwise flags the constructors' copy loops).
inline void check_dense_shape(std::string_view who, std::size_t weights, std::size_t out_features,
                              std::size_t in_features, std::size_t bias) {
  if (out_features == 0 || in_features == 0 || weights != out_features * in_features || bias != out_features)
      [[unlikely]]
    throw_dense_shape_error(who, weights, out_features, in_features, bias);
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
