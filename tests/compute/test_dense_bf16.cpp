// compute_tests — bf16 weights (packed_dense_bf16) and their dense kernels.
//
// Both paths round x to bf16 and sum exact bf16 products in fp32, so they are checked against a double reference
// over the rounded weights and inputs with an fp32 rounding tolerance only (nothing hides a wrong lane or pair);
// separately, the result against the original fp32 layer stays within the bf16 rounding bound.
#include "reference.hpp"

#include <powerbatch/compute/dense_bf16.hpp>

#include <boost/asio/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace compute_tests {
namespace {

constexpr std::array<compute::activation, 5> all_activations{compute::activation::none, compute::activation::relu,
                                                             compute::activation::gelu, compute::activation::sigmoid,
                                                             compute::activation::tanh};

// The layer as the kernels compute it: rounded weights and inputs.
layer_data rounded(const layer_data& d, const compute::packed_dense_bf16& layer) {
  layer_data e = d;
  for (std::size_t o = 0; o < d.out; ++o)
    for (std::size_t i = 0; i < d.in; ++i) e.weights[o * d.in + i] = layer.weight(o, i);
  for (float& v : e.x) v = compute::from_bf16(compute::to_bf16(v));
  return e;
}

void check_bf16(std::size_t in, std::size_t out, std::size_t batch, unsigned seed) {
  const layer_data d = random_layer(in, out, batch, seed);
  const compute::packed_dense_bf16 layer = compute::quantize_bf16(d.weights, out, in, d.bias);
  const layer_data e = rounded(d, layer);
  const reference_sums ref = reference_dense(e);
  const reference_sums original = reference_dense(d);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    for (compute::activation act : all_activations) {
      std::vector<float> y(batch * out + 1, -12345.0f);
      compute::dense_forward_serial(layer, d.x.data(), batch, y.data(), act);
      std::size_t failures = 0;
      for (std::size_t k = 0; k < batch * out; ++k) {
        const double expected = activate_reference(act, ref.value[k]);
        const double tolerance = fp32_tolerance(in, ref.magnitude[k], expected);
        if (!(std::fabs(y[k] - expected) <= tolerance) && failures++ < 3) {
          FAIL_CHECK(compute::to_string(isa) << " " << compute::to_string(act) << " in " << in << " out " << out
                                             << " batch " << batch << " element " << k << ": " << y[k] << " vs "
                                             << expected << " (tolerance " << tolerance << ")");
        }
        if (act == compute::activation::none) {
          // Against fp32: each of x and w is off by at most 2^-8 of itself (8 significant bits), so each product
          // by about 2^-7.
          const double bound = 0x1p-7 * 1.01 * original.magnitude[k] + tolerance;
          if (!(std::fabs(y[k] - original.value[k]) <= bound) && failures++ < 3)
            FAIL_CHECK("element " << k << " is " << std::fabs(y[k] - original.value[k]) << " from fp32, bound "
                                  << bound);
        }
      }
      CHECK(failures == 0);
      CHECK(y[batch * out] == -12345.0f);
    }
  }
}

}  // namespace

TEST_CASE("to_bf16 rounds to nearest even and keeps infinities and NaN", "[compute][bf16]") {
  CHECK(compute::from_bf16(compute::to_bf16(1.0f)) == 1.0f);
  CHECK(compute::from_bf16(compute::to_bf16(-2.5f)) == -2.5f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even mantissa, 1. 1 + 3 x 2^-8 goes up to 1 + 2^-6.
  CHECK(compute::from_bf16(compute::to_bf16(1.0f + 0x1p-8f)) == 1.0f);
  CHECK(compute::from_bf16(compute::to_bf16(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);
  CHECK(compute::from_bf16(compute::to_bf16(1.0f + 0x1p-8f + 0x1p-20f)) == 1.0f + 0x1p-7f);
  CHECK(std::isinf(compute::from_bf16(compute::to_bf16(std::numeric_limits<float>::infinity()))));
  CHECK(std::isnan(compute::from_bf16(compute::to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits in the low 16 bits must not round to infinity.
  CHECK(std::isnan(compute::from_bf16(compute::to_bf16(std::bit_cast<float>(0x7f800001u)))));
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  double worst = 0.0;
  for (int k = 0; k < 100'000; ++k) {
    const float v = normal(rng);
    worst = std::max(worst, double(std::fabs(compute::from_bf16(compute::to_bf16(v)) - v) / std::fabs(v)));
  }
  CHECK(worst <= 0x1p-8);  // half a unit in the 8th significant bit
  CHECK(worst > 0x1p-9);
}

TEST_CASE("bf16 dense matches the double reference for odd sizes", "[compute][bf16]") {
  for (std::size_t in : {1, 2, 7, 33, 1000})
    for (std::size_t out : {1, 15, 16, 17, 40}) check_bf16(in, out, 7, 300u + unsigned(in + out));
  check_bf16(1000, 1000, 3, 8);
}

TEST_CASE("bf16 dense: batches 0..300 across tile and chunk boundaries", "[compute][bf16]") {
  for (std::size_t batch : {0, 1, 2, 3, 4, 5, 11, 12, 13, 25, 95, 96, 97, 300})
    check_bf16(70, 35, batch, 41u + unsigned(batch));
}

TEST_CASE("bf16 dense split over threads equals the serial result", "[compute][bf16][parallel]") {
  const layer_data d = random_layer(257, 70, 100, 9);
  const compute::packed_dense_bf16 layer = compute::quantize_bf16(d.weights, 70, 257, d.bias);
  std::vector<float> serial(100 * 70), split(100 * 70, -1.0f);
  compute::dense_forward_serial(layer, d.x.data(), 100, serial.data(), compute::activation::relu);
  boost::asio::thread_pool pool(2);
  compute::dense_forward(layer, d.x.data(), 100, split.data(), compute::activation::relu,
                         {pool.get_executor(), 3, 16});
  pool.join();
  CHECK(split == serial);
}

TEST_CASE("quantize_bf16 rejects mismatched sizes, naming the argument", "[compute][bf16][errors]") {
  const std::vector<float> weights(6), bias(2), short_bias(1);
  const compute::packed_dense_bf16 ok = compute::quantize_bf16(weights, 2, 3, bias);
  CHECK(ok.padded_in() == 4);
  CHECK(ok.bytes() >= 6 * sizeof(std::uint16_t));
  CHECK_THROWS_WITH(compute::quantize_bf16(weights, 3, 3, bias), Catch::Contains("weights has 6 floats"));
  CHECK_THROWS_WITH(compute::quantize_bf16(weights, 2, 3, short_bias), Catch::Contains("bias has 1 floats"));
  CHECK_THROWS_AS(compute::quantize_bf16(weights, 0, 3, bias), std::invalid_argument);
}

}  // namespace compute_tests
