// The digits model with bf16 weights (compute::quantize_bf16(model), cpu_mlp's mlp_precision::bf16): held-out top-1
// and agreement with fp32 on every kernel set the CPU has (AVX512-BF16 where present, plain C++ otherwise), the
// backend's precision, weight bytes and validate().
#include <powerbatch/backend/cpu_mlp.hpp>
#include <powerbatch/compute/kernel_isa.hpp>
#include <powerbatch/compute/model.hpp>

#include <catch2/catch.hpp>

#include "digits_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

namespace pb = powerbatch;
namespace compute = powerbatch::compute;
using model_test::agreement;
using model_test::digits_dir;
using model_test::predictions;

TEST_CASE("digits bf16: held-out accuracy and agreement with fp32 on every kernel set", "[digits][bf16]") {
  const model_test::held_out data;
  const compute::mlp_model fp32 = compute::load_mlp(digits_dir);
  const std::vector<float> out32 = model_test::outputs_of(fp32, data);
  const auto p32 = predictions(out32, 10);
  const double accuracy32 = agreement(p32, data.y.values);
  const compute::bf16_mlp bf16 = compute::quantize_bf16(fp32);
  CHECK(bf16.bytes() < fp32.bytes() * 6 / 10);  // half the weights' bytes, the fp32 biases kept
  for (auto isa : {compute::kernel_isa::portable, compute::detected_kernel_isa()}) {
    compute::force_kernel_isa(isa);
    const std::vector<float> out16 = model_test::outputs_of(bf16, data);
    compute::force_kernel_isa(std::nullopt);
    const auto p16 = predictions(out16, 10);
    const double accuracy16 = agreement(p16, data.y.values), agree = agreement(p16, p32);
    double max_probability_error = 0.0;
    for (std::size_t i = 0; i < out16.size(); ++i)
      max_probability_error = std::max(max_probability_error, double(std::fabs(out16[i] - out32[i])));
    std::printf("digits held-out (%zu images), bf16 (%s kernels): top-1 %.4f (fp32 %.4f), agreement %.4f, "
                "max |p16 - p32| %.4f\n",
                data.count(), std::string(compute::to_string(isa)).c_str(), accuracy16, accuracy32, agree,
                max_probability_error);
    INFO(compute::to_string(isa));
    // Measured: 0.9644 and all 450 agree, max |p16 - p32| 0.0068 (portable and AVX512-BF16 alike).
    CHECK(accuracy16 >= accuracy32 - 0.005);
    CHECK(agree >= 0.995);
    CHECK(max_probability_error <= 0.05);
    CHECK(max_probability_error > 0.0);  // really rounded
  }
}

TEST_CASE("digits bf16: cpu_mlp runs bf16 models", "[digits][bf16][validate]") {
  const model_test::held_out data;
  auto fp32 = pb::backend::cpu_mlp::load(digits_dir, pb::backend::mlp_precision::fp32);
  auto bf16 = pb::backend::cpu_mlp::load(digits_dir, pb::backend::mlp_precision::bf16, {.max_batch_size = 64});
  CHECK(bf16.precision() == pb::backend::mlp_precision::bf16);
  CHECK(pb::backend::to_string(bf16.precision()) == "bf16");
  CHECK(bf16.weight_bytes() < fp32.weight_bytes() * 6 / 10);
  const auto labels = bf16.validate(data.x.values, data.y.values, 0.95);
  CHECK(labels.ok);
  CHECK(labels.samples == data.count());
  std::vector<float> expected(data.count() * 10);
  fp32.forward(data.x.values.data(), data.count(), expected.data());
  CHECK(bf16.validate(data.x.values, expected, 0.05f).ok);
  CHECK_FALSE(bf16.validate(data.x.values, expected, 0.0f).ok);
}
