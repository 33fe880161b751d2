// compute_tests — the double-precision reference the kernels are checked against, and random layer data.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/kernel_isa.hpp>

#include <cstddef>
#include <optional>
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

// Restores automatic selection when a test that forced a kernel set ends.
struct isa_guard {
  explicit isa_guard(compute::kernel_isa isa) { compute::force_kernel_isa(isa); }
  ~isa_guard() { compute::force_kernel_isa(std::nullopt); }
  isa_guard(const isa_guard&) = delete;
  isa_guard& operator=(const isa_guard&) = delete;
};

// Every kernel set this CPU can run, portable first.
inline std::vector<compute::kernel_isa> kernel_sets() {
  std::vector<compute::kernel_isa> sets;
  for (auto isa : {compute::kernel_isa::portable, compute::kernel_isa::avx2_fma, compute::kernel_isa::avx512,
                   compute::kernel_isa::avx512_vnni, compute::kernel_isa::avx512_bf16}) {
    if (isa <= compute::detected_kernel_isa()) sets.push_back(isa);
  }
  return sets;
}

}  // namespace compute_tests
