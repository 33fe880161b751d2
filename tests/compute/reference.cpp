// compute_tests — reference implementation (see reference.hpp).
#include "reference.hpp"

#include <cmath>
#include <random>

namespace compute_tests {

layer_data random_layer(std::size_t in, std::size_t out, std::size_t batch, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  layer_data d;
  d.in = in;
  d.out = out;
  d.batch = batch;
  const float weight_scale = 1.0f / std::sqrt(static_cast<float>(in));
  d.weights.resize(in * out);
  for (float& w : d.weights) w = normal(rng) * weight_scale;
  d.bias.resize(out);
  for (float& b : d.bias) b = normal(rng);
  d.x.resize(batch * in);
  for (float& v : d.x) v = normal(rng);
  return d;
}

double activate_reference(compute::activation act, double v) {
  switch (act) {
    case compute::activation::none: return v;
    case compute::activation::relu: return v > 0.0 ? v : 0.0;
    case compute::activation::gelu: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case compute::activation::sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case compute::activation::tanh: return std::tanh(v);
  }
  return v;
}

reference_sums reference_dense(const layer_data& d) {
  reference_sums sums;
  sums.value.resize(d.batch * d.out);
  sums.magnitude.resize(d.batch * d.out);
  for (std::size_t b = 0; b < d.batch; ++b) {
    for (std::size_t o = 0; o < d.out; ++o) {
      double value = d.bias[o], magnitude = std::fabs(d.bias[o]);
      for (std::size_t i = 0; i < d.in; ++i) {
        const double term = static_cast<double>(d.x[b * d.in + i]) * static_cast<double>(d.weights[o * d.in + i]);
        value += term;
        magnitude += std::fabs(term);
      }
      sums.value[b * d.out + o] = value;
      sums.magnitude[b * d.out + o] = magnitude;
    }
  }
  return sums;
}

double fp32_tolerance(std::size_t in, double magnitude, double reference_value) {
  constexpr double unit_roundoff = 0x1p-24;
  return 1.13 * static_cast<double>(in + 1) * unit_roundoff * magnitude + 2e-6 * (1.0 + std::fabs(reference_value));
}

}  // namespace compute_tests
