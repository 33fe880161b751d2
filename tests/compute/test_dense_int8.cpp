// compute_tests — int8 quantisation and the int8 dense kernels against the double reference, within the bound
// the quantisation implies, for both kernel sets, plus size errors.
//
// The bound: x = s_x q_x + dx with |dx| <= s_x / 2 (per row), w = s_w q_w + dw with |dw| <= s_w / 2 (per output
// channel), and the integer sum is exact, so per output
//   |sum x w - s_x s_w sum q_x q_w| = |sum (x dw + dx w - dx dw)| <= sum (|x| s_w / 2 + |w| s_x / 2 + s_x s_w / 4),
// plus float rounding of the dequantised value; the activations' slope is at most 1.13 (gelu).
#include "reference.hpp"

#include <powerbatch/compute/dense_kernels.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace compute_tests {
namespace {

constexpr std::array<compute::activation, 5> all_activations{compute::activation::none, compute::activation::relu,
                                                             compute::activation::gelu, compute::activation::sigmoid,
                                                             compute::activation::tanh};

// The quantisation error bound above, per output (before the activation).
std::vector<double> int8_error_bound(const layer_data& d, const compute::quantized_dense_int8& layer) {
  std::vector<double> bound(d.batch * d.out);
  for (std::size_t b = 0; b < d.batch; ++b) {
    const float* x = d.x.data() + b * d.in;
    float max_abs = 0.0f;
    for (std::size_t i = 0; i < d.in; ++i) max_abs = std::max(max_abs, std::fabs(x[i]));
    const double row_scale = max_abs / 127.0;
    for (std::size_t o = 0; o < d.out; ++o) {
      const double channel_scale = layer.scale(o);
      double sum = 0.0, magnitude = std::fabs(d.bias[o]);
      for (std::size_t i = 0; i < d.in; ++i) {
        const double w = d.weights[o * d.in + i];
        sum += std::fabs(x[i]) * channel_scale / 2 + std::fabs(w) * row_scale / 2 + row_scale * channel_scale / 4;
        magnitude += std::fabs(x[i] * w);
      }
      // 1 % for the float product x * (127 / max) landing just past a rounding midpoint; float dequantisation.
      bound[b * d.out + o] = 1.01 * sum + 4 * 0x1p-24 * magnitude + 1e-6;
    }
  }
  return bound;
}

void check_int8_against_reference(std::size_t in, std::size_t out, std::size_t batch, unsigned seed) {
  const layer_data d = random_layer(in, out, batch, seed);
  const compute::quantized_dense_int8 layer = compute::quantize_int8(d.weights, out, in, d.bias);
  const reference_sums ref = reference_dense(d);
  const std::vector<double> bound = int8_error_bound(d, layer);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    for (compute::activation act : all_activations) {
      std::vector<float> y(batch * out + 1, -12345.0f);
      compute::dense_forward_serial(layer, d.x.data(), batch, y.data(), act);
      std::size_t failures = 0;
      for (std::size_t k = 0; k < batch * out; ++k) {
        const double expected = activate_reference(act, ref.value[k]);
        const double tolerance = 1.13 * bound[k] + 2e-6 * (1.0 + std::fabs(expected));
        if (!(std::fabs(y[k] - expected) <= tolerance) && failures++ < 3) {
          FAIL_CHECK(compute::to_string(isa) << " " << compute::to_string(act) << " in " << in << " out " << out
                                             << " batch " << batch << " element " << k << ": " << y[k] << " vs "
                                             << expected << " (bound " << tolerance << ")");
        }
      }
      CHECK(failures == 0);
      CHECK(y[batch * out] == -12345.0f);
    }
  }
}

}  // namespace

TEST_CASE("quantize_int8: per-channel scale, |w - scale q| <= scale / 2, q in [-127, 127]", "[compute][int8]") {
  layer_data d = random_layer(37, 19, 0, 5);
  for (std::size_t i = 0; i < 37; ++i) d.weights[3 * 37 + i] = 0.0f;  // an all-zero channel
  d.weights[5 * 37 + 4] = 50.0f;                                      // one channel with an outlier
  const compute::quantized_dense_int8 layer = compute::quantize_int8(d.weights, 19, 37, d.bias);
  CHECK(layer.in_features() == 37);
  CHECK(layer.out_features() == 19);
  CHECK(layer.padded_in() == 40);
  CHECK(layer.bytes() >= 19 * 37);
  CHECK(layer.scale(3) == 0.0f);
  CHECK(layer.scale(5) == Approx(50.0 / 127));
  for (std::size_t o = 0; o < 19; ++o) {
    float max_abs = 0.0f;
    for (std::size_t i = 0; i < 37; ++i) max_abs = std::max(max_abs, std::fabs(d.weights[o * 37 + i]));
    CHECK(layer.scale(o) == Approx(max_abs / 127.0));
    for (std::size_t i = 0; i < 37; ++i) {
      const int q = layer.quantized_weight(o, i);
      REQUIRE(q >= -127);
      REQUIRE(q <= 127);
      const double error = std::fabs(d.weights[o * 37 + i] - double(layer.scale(o)) * q);
      REQUIRE(error <= layer.scale(o) * (0.5 + 1e-5));
    }
    // The largest weight maps to +-127 exactly.
    if (max_abs > 0.0f) {
      int largest = 0;
      for (std::size_t i = 0; i < 37; ++i) largest = std::max(largest, std::abs(int(layer.quantized_weight(o, i))));
      CHECK(largest == 127);
    }
  }
}

TEST_CASE("int8 dense stays within the quantisation error bound", "[compute][int8]") {
  for (std::size_t in : {1, 3, 4, 7, 33, 1000})
    for (std::size_t out : {1, 7, 16, 17, 40}) check_int8_against_reference(in, out, 9, 200u + unsigned(in + out));
  check_int8_against_reference(1000, 1000, 2, 9);
}

TEST_CASE("int8 dense: batches 0..300 across tile boundaries", "[compute][int8]") {
  for (std::size_t batch : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100, 300})
    check_int8_against_reference(70, 35, batch, 31u + unsigned(batch));
}

TEST_CASE("int8 dense: the integer sums are exact, so every kernel set agrees to float rounding",
          "[compute][int8][dispatch]") {
  if (kernel_sets().size() < 2) {
    WARN("only the portable kernels on this CPU: skipped");
    return;
  }
  // Extreme inputs: both operands at +-127 in every lane would saturate a naive vpmaddubsw.
  layer_data d = random_layer(64, 33, 11, 12);
  for (std::size_t i = 0; i < d.x.size(); ++i) d.x[i] = (i % 3 == 0) ? -4.0f : 4.0f;
  for (std::size_t i = 0; i < d.weights.size(); ++i) d.weights[i] = (i % 5 == 0) ? -1.0f : 1.0f;
  const compute::quantized_dense_int8 layer = compute::quantize_int8(d.weights, 33, 64, d.bias);
  std::vector<float> portable(11 * 33);
  {
    isa_guard guard(compute::kernel_isa::portable);
    compute::dense_forward_serial(layer, d.x.data(), 11, portable.data(), compute::activation::none);
  }
  const reference_sums ref = reference_dense(d);
  for (compute::kernel_isa isa : kernel_sets()) {
    if (isa == compute::kernel_isa::portable) continue;
    std::vector<float> simd(11 * 33, -12345.0f);
    {
      isa_guard guard(isa);
      compute::dense_forward_serial(layer, d.x.data(), 11, simd.data(), compute::activation::none);
    }
    for (std::size_t k = 0; k < portable.size(); ++k) {
      INFO(compute::to_string(isa) << " output " << k);
      REQUIRE(simd[k] == Approx(portable[k]).epsilon(1e-6).margin(1e-5));
      // All values are exactly representable here, so the result is exact too.
      REQUIRE(simd[k] == Approx(ref.value[k]).epsilon(1e-6).margin(1e-5));
    }
  }
}

TEST_CASE("int8 dense: exact where the VNNI kernel's offset sums wrap past int32", "[compute][int8][dispatch]") {
  // x = w = 1 quantise to 127 everywhere. The true sum 127 x 127 x 70 000 = 1.13e9 fits int32, but the VNNI
  // kernel's (x + 128) x w sums reach 255 x 127 x 70 000 = 2.27e9 and wrap; subtracting 128 x sum(w) wraps back.
  constexpr std::size_t in = 70'000, out = 17, batch = 3;
  const std::vector<float> weights(in * out, 1.0f), bias(out, 0.5f), x(batch * in, 1.0f);
  const compute::quantized_dense_int8 layer = compute::quantize_int8(weights, out, in, bias);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    std::vector<float> y(batch * out, -12345.0f);
    compute::dense_forward_serial(layer, x.data(), batch, y.data(), compute::activation::none);
    for (std::size_t k = 0; k < y.size(); ++k) {
      INFO(compute::to_string(isa) << " output " << k);
      REQUIRE(y[k] == Approx(70'000.5).epsilon(1e-6));
    }
  }
}

TEST_CASE("quantize_int8 rejects mismatched sizes, naming the argument", "[compute][int8][errors]") {
  const std::vector<float> weights(6), bias(2), short_bias(1);
  CHECK_THROWS_WITH(compute::quantize_int8(weights, 4, 3, std::vector<float>(4)),
                    Catch::Contains("weights has 6 floats") && Catch::Contains("4 x 3 = 12"));
  CHECK_THROWS_WITH(compute::quantize_int8(weights, 2, 3, short_bias),
                    Catch::Contains("bias has 1 floats") && Catch::Contains("out_features = 2"));
  CHECK_THROWS_AS(compute::quantize_int8(weights, 2, 0, bias), std::invalid_argument);
  const std::size_t too_wide = compute::quantized_dense_int8::max_in_features + 1;
  CHECK_THROWS_WITH(compute::quantize_int8(std::vector<float>(too_wide), 1, too_wide, std::vector<float>(1)),
                    Catch::Contains("overflow the int32 accumulators"));
  static_assert(127LL * 127 * (compute::quantized_dense_int8::max_in_features + 3) < (1LL << 31));
}

}  // namespace compute_tests
