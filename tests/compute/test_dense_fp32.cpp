// compute_tests — packed_dense_fp32 through dense_forward_serial against the double reference: every activation,
// odd sizes, batches 0..300 across the kernels' tile boundaries, both kernel sets, size errors.
#include "reference.hpp"

#include <powerbatch/compute/dense_kernels.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace compute_tests {
namespace {

constexpr std::array<compute::activation, 5> all_activations{compute::activation::none, compute::activation::relu,
                                                             compute::activation::gelu, compute::activation::sigmoid,
                                                             compute::activation::tanh};


void check_against_reference(std::size_t in, std::size_t out, std::size_t batch, unsigned seed) {
  const layer_data d = random_layer(in, out, batch, seed);
  const compute::packed_dense_fp32 layer(d.weights, out, in, d.bias);
  const reference_sums ref = reference_dense(d);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    for (compute::activation act : all_activations) {
      std::vector<float> y(batch * out + 1, -12345.0f);  // one guard element past the end
      compute::dense_forward_serial(layer, d.x.data(), batch, y.data(), act);
      std::size_t failures = 0;
      for (std::size_t k = 0; k < batch * out; ++k) {
        const double expected = activate_reference(act, ref.value[k]);
        const double tolerance = fp32_tolerance(in, ref.magnitude[k], expected);
        if (!(std::fabs(y[k] - expected) <= tolerance) && failures++ < 3) {
          FAIL_CHECK(compute::to_string(isa) << " " << compute::to_string(act) << " in " << in << " out " << out
                                             << " batch " << batch << " row " << k / out << " column " << k % out
                                             << ": " << y[k] << " vs " << expected << " (tolerance " << tolerance
                                             << ")");
        }
      }
      CHECK(failures == 0);
      CHECK(y[batch * out] == -12345.0f);
    }
  }
}

}  // namespace

TEST_CASE("fp32 dense matches the double reference for odd sizes", "[compute][fp32]") {
  for (std::size_t in : {1, 7, 8, 33, 1000}) {
    for (std::size_t out : {1, 7, 15, 16, 17, 33, 64}) check_against_reference(in, out, 13, 100u + unsigned(in * out));
  }
  check_against_reference(33, 1000, 7, 3);
  check_against_reference(1000, 1000, 3, 4);
}

TEST_CASE("fp32 dense matches the reference for batches 0..300 across tile boundaries", "[compute][fp32]") {
  for (std::size_t batch : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 17, 31, 32, 33, 64, 65, 127, 255, 256, 300})
    check_against_reference(37, 35, batch, 7u + unsigned(batch));
}

TEST_CASE("fp32 dense: every kernel set agrees closely with the portable one", "[compute][fp32][dispatch]") {
  if (kernel_sets().size() < 2) {
    WARN("only the portable kernels on this CPU: skipped");
    return;
  }
  const layer_data d = random_layer(300, 70, 29, 11);
  const compute::packed_dense_fp32 layer(d.weights, 70, 300, d.bias);
  std::vector<float> portable(29 * 70);
  {
    isa_guard guard(compute::kernel_isa::portable);
    compute::dense_forward_serial(layer, d.x.data(), 29, portable.data(), compute::activation::gelu);
  }
  for (compute::kernel_isa isa : kernel_sets()) {
    if (isa == compute::kernel_isa::portable) continue;
    std::vector<float> simd(29 * 70, -12345.0f);
    {
      isa_guard guard(isa);
      compute::dense_forward_serial(layer, d.x.data(), 29, simd.data(), compute::activation::gelu);
    }
    for (std::size_t k = 0; k < portable.size(); ++k) {
      INFO(compute::to_string(isa) << " output " << k);
      REQUIRE(simd[k] == Approx(portable[k]).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("packed_dense_fp32 rejects mismatched sizes, naming the argument", "[compute][fp32][errors]") {
  const std::vector<float> weights(6), bias(2), short_bias(1);
  const compute::packed_dense_fp32 ok(weights, 2, 3, bias);
  CHECK(ok.in_features() == 3);
  CHECK(ok.out_features() == 2);
  CHECK(ok.bytes() >= (6 + 2) * sizeof(float));
  CHECK_THROWS_WITH(compute::packed_dense_fp32(weights, 3, 3, bias),
                    Catch::Contains("weights has 6 floats") && Catch::Contains("3 x 3 = 9"));
  CHECK_THROWS_WITH(compute::packed_dense_fp32(weights, 2, 3, short_bias),
                    Catch::Contains("bias has 1 floats") && Catch::Contains("out_features = 2"));
  CHECK_THROWS_AS(compute::packed_dense_fp32(std::vector<float>{}, 0, 3, std::vector<float>{}),
                  std::invalid_argument);
}

}  // namespace compute_tests
