// compute_tests — the double-precision reference the kernels are checked against, and random layer data.
#pragma once

#include <powerbatch/compute/activation.hpp>

#include <cstddef>
#include <vector>

namespace compute_tests {

namespace compute = powerbatch::compute;

struct layer_data {
  std::size_t in = 0, out = 0, batch = 0;
  std::vector<float> weights, bias, x;
};

// Normal(0, 1) inputs and bias, weights Normal(0, 1/sqrt(in)); deterministic per seed.
layer_data random_layer(std::size_t in, std::size_t out, std::size_t batch, unsigned seed);

double activate_reference(compute::activation act, double v);

// Pre-activation sums in double, and for each the sum of magnitudes |b| + sum |x w| (the fp32 error scale).
struct reference_sums {
  std::vector<double> value, magnitude;
};
reference_sums reference_dense(const layer_data& d);

// |y - act(ref)| must not exceed this for an fp32 kernel that sums in any order with or without FMA: one rounding
// per term (in + 1 of them) on the magnitude, the activation's approximation error, and its slope (<= 1.13).
double fp32_tolerance(std::size_t in, double magnitude, double reference_value);

}  // namespace compute_tests
