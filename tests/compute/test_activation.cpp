// compute_tests — activation names, the scalar and AVX2 activation math against double, softmax_rows.
#include "reference.hpp"

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/vector_math_avx2.hpp>
#include <powerbatch/compute/softmax.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace compute_tests {
namespace {

constexpr std::array<compute::activation, 5> all_activations{compute::activation::none, compute::activation::relu,
                                                             compute::activation::gelu, compute::activation::sigmoid,
                                                             compute::activation::tanh};

std::vector<float> activation_inputs() {
  std::vector<float> values;
  for (float v = -30.0f; v <= 30.0f; v += 0.0137f) values.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-6f, -1e-6f, 0.6249f, 0.625f, 0.6251f, -0.625f, 88.0f, -88.0f, 100.0f, -100.0f,
                  1000.0f, -1000.0f})
    values.push_back(v);
  return values;
}

}  // namespace

TEST_CASE("activation names round-trip and unknown names are rejected", "[compute][activation]") {
  for (compute::activation a : all_activations) CHECK(compute::activation_from_string(compute::to_string(a)) == a);
  CHECK(compute::activation_from_string("identity") == compute::activation::none);
  CHECK_FALSE(compute::activation_from_string("Relu").has_value());
  CHECK_FALSE(compute::activation_from_string("").has_value());
  CHECK(compute::to_string(compute::activation::gelu) == "gelu");
}

TEST_CASE("scalar activations match the double definitions", "[compute][activation]") {
  for (compute::activation a : all_activations) {
    for (float v : activation_inputs()) {
      const double expected = activate_reference(a, v);
      INFO(compute::to_string(a) << "(" << v << ")");
      CHECK(std::fabs(compute::apply_activation(a, v) - expected) <= 2e-7 * (1.0 + std::fabs(expected)));
    }
  }
}

#if POWERBATCH_COMPUTE_X86_DISPATCH
namespace {
__attribute__((target("avx2,fma"))) void activate_avx2(compute::activation a, const float* in, float* out,
                                                       std::size_t count) {
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(out + i, compute::detail::apply_activation_avx2(a, _mm256_loadu_ps(in + i)));
  alignas(32) float tail_in[8] = {}, tail_out[8];
  for (std::size_t k = i; k < count; ++k) tail_in[k - i] = in[k];
  _mm256_store_ps(tail_out, compute::detail::apply_activation_avx2(a, _mm256_load_ps(tail_in)));
  for (std::size_t k = i; k < count; ++k) out[k] = tail_out[k - i];
}
}  // namespace

TEST_CASE("AVX2 activations (exp, erf-gelu, sigmoid, tanh approximations) match double to a few ulp",
          "[compute][activation][avx2]") {
  if (compute::detected_kernel_isa() < compute::kernel_isa::avx2_fma) {
    WARN("this CPU has no AVX2 + FMA: skipped");
    return;
  }
  const std::vector<float> inputs = activation_inputs();
  std::vector<float> outputs(inputs.size());
  for (compute::activation a : all_activations) {
    activate_avx2(a, inputs.data(), outputs.data(), inputs.size());
    double worst = 0.0;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const double expected = activate_reference(a, inputs[k]);
      const double error = std::fabs(outputs[k] - expected) / (1.0 + std::fabs(expected));
      worst = std::max(worst, error);
      INFO(compute::to_string(a) << "(" << inputs[k] << ") = " << outputs[k] << ", expected " << expected);
      REQUIRE(error <= 1e-6);
      REQUIRE(std::isfinite(outputs[k]));
    }
    INFO(compute::to_string(a) << " worst relative error " << worst);
    CHECK(worst >= 0.0);
  }
}
#endif

TEST_CASE("softmax_rows: each row sums to 1, keeps order, survives large inputs", "[compute][softmax]") {
  std::vector<float> y{1.0f, 2.0f, 3.0f, 4.0f,  //
                       1000.0f, 1001.0f, 999.0f, 1000.0f,  // would overflow exp() without the max shift
                       -5.0f, -5.0f, -5.0f, -5.0f};
  compute::softmax_rows(y.data(), 3, 4);
  for (std::size_t r = 0; r < 3; ++r) {
    double sum = 0.0;
    for (std::size_t c = 0; c < 4; ++c) {
      CHECK(std::isfinite(y[r * 4 + c]));
      sum += y[r * 4 + c];
    }
    CHECK(sum == Approx(1.0).epsilon(1e-6));
  }
  CHECK(y[0] < y[1]);
  CHECK(y[2] < y[3]);
  CHECK(y[3] == Approx(std::exp(3.0) / (std::exp(0.0) + std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  CHECK(y[5] == Approx(std::exp(1.0) / (1.0 + std::exp(1.0) + std::exp(-1.0) + 1.0)));
  CHECK(y[8] == Approx(0.25));
  compute::softmax_rows(y.data(), 0, 4);  // zero rows: nothing to do
}

}  // namespace compute_tests
