// compute_tests — int4 weight-only quantisation and its dense kernels.
//
// The kernels compute with the dequantised weights q * scale in fp32, so they are checked against a double
// reference over the dequantised weights with an fp32 rounding tolerance only: there is no quantisation slack to
// hide a wrong nibble or scale in. The rounding scale is sum |x| (|q| + 16) scale, not sum |x q| scale: the AVX2
// kernel sums x (q + 8) per group and subtracts 8 sum(x) (dense_int4_avx2.hpp). Separately, the result against the
// original fp32 weights stays within the quantisation bound sum_i |x_i| scale(o, group of i) / 2.
#include "reference.hpp"

#include <powerbatch/compute/dense_int4.hpp>

#include <boost/asio/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace compute_tests {
namespace {

constexpr std::array<compute::activation, 5> all_activations{compute::activation::none, compute::activation::relu,
                                                             compute::activation::gelu, compute::activation::sigmoid,
                                                             compute::activation::tanh};

bool has_avx2() { return compute::detected_kernel_isa() >= compute::kernel_isa::avx2_fma; }

// The layer's weights as the kernels use them, w[o][i] = q * scale, in double (exact).
layer_data dequantised(const layer_data& d, const compute::quantized_dense_int4& layer) {
  layer_data e = d;
  for (std::size_t o = 0; o < d.out; ++o)
    for (std::size_t i = 0; i < d.in; ++i)
      e.weights[o * d.in + i] = static_cast<float>(double(layer.quantized_weight(o, i)) *
                                                   double(layer.scale(o, i / layer.group_size())));
  return e;
}

// Per output, |bias| + sum_i |x_i| (|q_i| + 16) scale_i: the magnitude the AVX2 kernel's roundings scale with.
std::vector<double> int4_rounding_scale(const layer_data& d, const compute::quantized_dense_int4& layer) {
  std::vector<double> scale(d.batch * d.out);
  for (std::size_t b = 0; b < d.batch; ++b)
    for (std::size_t o = 0; o < d.out; ++o) {
      double sum = std::fabs(d.bias[o]);
      for (std::size_t i = 0; i < d.in; ++i)
        sum += std::fabs(d.x[b * d.in + i]) * (std::abs(int(layer.quantized_weight(o, i))) + 16) *
               layer.scale(o, i / layer.group_size());
      scale[b * d.out + o] = sum;
    }
  return scale;
}

// Roundings per output: one per term within a group, the offset subtraction, the scaling FMA, one per group.
std::size_t int4_roundings(const compute::quantized_dense_int4& layer) {
  return layer.in_features() + 3 + layer.group_count();
}

std::vector<float> run(const compute::quantized_dense_int4& layer, const layer_data& d, compute::activation act) {
  std::vector<float> y(d.batch * d.out + 1, -12345.0f);
  compute::dense_forward_serial(layer, d.x.data(), d.batch, y.data(), act);
  CHECK(y[d.batch * d.out] == -12345.0f);  // nothing written past the end
  y.pop_back();
  return y;
}

void check_int4_against_reference(std::size_t in, std::size_t out, std::size_t batch, std::size_t group_size,
                                  unsigned seed) {
  const layer_data d = random_layer(in, out, batch, seed);
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, out, in, d.bias, group_size);
  const reference_sums ref = reference_dense(dequantised(d, layer));
  const std::vector<double> rounding = int4_rounding_scale(d, layer);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    for (compute::activation act : all_activations) {
      const std::vector<float> y = run(layer, d, act);
      std::size_t failures = 0;
      for (std::size_t k = 0; k < batch * out; ++k) {
        const double expected = activate_reference(act, ref.value[k]);
        const double tolerance = fp32_tolerance(int4_roundings(layer), rounding[k], expected);
        if (!(std::fabs(y[k] - expected) <= tolerance) && failures++ < 3) {
          FAIL_CHECK(compute::to_string(isa) << " " << compute::to_string(act) << " in " << in << " out " << out
                                             << " batch " << batch << " group " << group_size << " element " << k
                                             << ": " << y[k] << " vs " << expected << " (tolerance " << tolerance
                                             << ")");
        }
      }
      CHECK(failures == 0);
    }
  }
}

}  // namespace

TEST_CASE("quantize_int4: per-group scales, |w - scale q| <= scale / 2, q in [-7, 7]", "[compute][int4]") {
  constexpr std::size_t in = 150, out = 19, group = 64;  // groups of 64, 64 and 22 inputs
  layer_data d = random_layer(in, out, 0, 5);
  for (std::size_t i = 64; i < 128; ++i) d.weights[3 * in + i] = 0.0f;  // channel 3: an all-zero middle group
  d.weights[5 * in + 4] = 50.0f;                                        // channel 5: an outlier in group 0 only
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, out, in, d.bias, group);
  CHECK(layer.in_features() == in);
  CHECK(layer.out_features() == out);
  CHECK(layer.group_size() == group);
  CHECK(layer.group_count() == 3);
  CHECK(layer.panel_count() == 2);
  CHECK(layer.padded_in() == 152);
  // Two panels x 152 nibbles x 16 channels, 3 scales and 1 bias per padded channel.
  CHECK(layer.bytes() == 2 * 152 * 16 / 2 + 2 * 16 * (3 + 1) * sizeof(float));
  CHECK(layer.scale(3, 1) == 0.0f);
  CHECK(layer.scale(3, 0) > 0.0f);
  CHECK(layer.scale(5, 0) == Approx(50.0 / 7));
  CHECK(layer.scale(5, 1) < 1.0f);  // the outlier does not flatten channel 5's other groups
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t g = 0; g < 3; ++g) {
      const std::size_t begin = g * group, end = std::min(in, begin + group);
      float max_abs = 0.0f;
      for (std::size_t i = begin; i < end; ++i) max_abs = std::max(max_abs, std::fabs(d.weights[o * in + i]));
      CHECK(layer.scale(o, g) == Approx(max_abs / 7.0));
      int largest = 0;
      for (std::size_t i = begin; i < end; ++i) {
        const int q = layer.quantized_weight(o, i);
        REQUIRE(q >= -7);
        REQUIRE(q <= 7);
        largest = std::max(largest, std::abs(q));
        const double error = std::fabs(d.weights[o * in + i] - double(layer.scale(o, g)) * q);
        REQUIRE(error <= layer.scale(o, g) * (0.5 + 1e-5));
      }
      CHECK(largest == (max_abs > 0.0f ? 7 : 0));  // the largest weight of a group maps to +-7
    }
  }
}

TEST_CASE("quantize_int4: the default group size and the bytes it saves", "[compute][int4]") {
  const layer_data d = random_layer(1024, 1024, 0, 8);
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, 1024, 1024, d.bias);
  CHECK(layer.group_size() == compute::quantized_dense_int4::default_group_size);
  CHECK(layer.group_size() == 64);
  // 4 bits per weight plus one float scale per 64: 4.5 bits, an eighth of fp32 plus the scales.
  CHECK(layer.bytes() == 1024 * 1024 / 2 + 1024 * 16 * sizeof(float) + 1024 * sizeof(float));
}

TEST_CASE("int4 dense matches the double reference over the dequantised weights", "[compute][int4]") {
  for (std::size_t in : {1, 3, 8, 13, 64, 65, 100, 200})
    for (std::size_t out : {1, 7, 16, 17, 33, 40})
      check_int4_against_reference(in, out, 5, 64, 300u + unsigned(in * 7 + out));
  for (std::size_t group : {8, 16, 128}) check_int4_against_reference(201, 35, 6, group, 77u + unsigned(group));
  check_int4_against_reference(1000, 1000, 2, 128, 9);
}

TEST_CASE("int4 dense: batches 1..13 (every tile remainder), and 0 writes nothing", "[compute][int4]") {
  for (std::size_t batch = 0; batch <= 13; ++batch)
    check_int4_against_reference(70, 35, batch, 64, 31u + unsigned(batch));
  check_int4_against_reference(37, 50, 101, 32, 4);  // 48-row chunks: 48 + 48 + 5
}

TEST_CASE("int4 dense stays within the quantisation bound of the fp32 layer", "[compute][int4]") {
  const layer_data d = random_layer(300, 40, 7, 21);
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, 40, 300, d.bias, 64);
  const reference_sums exact = reference_dense(d);
  const std::vector<double> rounding = int4_rounding_scale(d, layer);
  double worst_ratio = 0.0;
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    const std::vector<float> y = run(layer, d, compute::activation::none);
    for (std::size_t b = 0; b < d.batch; ++b)
      for (std::size_t o = 0; o < d.out; ++o) {
        double bound = 0.0;
        for (std::size_t i = 0; i < d.in; ++i) bound += std::fabs(d.x[b * d.in + i]) * layer.scale(o, i / 64) / 2;
        const std::size_t k = b * d.out + o;
        const double error = std::fabs(y[k] - exact.value[k]);
        REQUIRE(error <= bound + fp32_tolerance(int4_roundings(layer), rounding[k], exact.value[k]));
        worst_ratio = std::max(worst_ratio, error / bound);
      }
  }
  // Rounding errors do not all line up: the worst output error is a fraction of the worst case (0.148 measured),
  // but not zero (the layer really is quantised).
  CHECK(worst_ratio > 0.05);
  CHECK(worst_ratio < 0.3);
}

TEST_CASE("int4 dense: exact data gives exact results, the same on both kernel sets", "[compute][int4][dispatch]") {
  // Weights k * 0.25 with every group's largest at +-1.75: scale 0.25, q = k exactly. Small integer inputs keep every
  // sum exact in float, so any nibble-order or sign mistake shows as a plain inequality.
  constexpr std::size_t in = 77, out = 21, batch = 9;
  layer_data d = random_layer(in, out, batch, 3);
  for (std::size_t o = 0; o < out; ++o)
    for (std::size_t i = 0; i < in; ++i) {
      const int q = (i % 8 == 0) ? ((o + i) % 2 ? 7 : -7) : int((o * 5 + i * 3) % 15) - 7;
      d.weights[o * in + i] = 0.25f * float(q);
    }
  for (std::size_t k = 0; k < d.x.size(); ++k) d.x[k] = float(int(k % 9) - 4);
  for (std::size_t o = 0; o < out; ++o) d.bias[o] = float(o) - 10.0f;
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, out, in, d.bias, 16);
  for (std::size_t o = 0; o < out; ++o)
    for (std::size_t i = 0; i < in; ++i) REQUIRE(layer.quantized_weight(o, i) == int(d.weights[o * in + i] * 4));
  const reference_sums ref = reference_dense(d);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    const std::vector<float> y = run(layer, d, compute::activation::none);
    for (std::size_t k = 0; k < y.size(); ++k) {
      INFO(compute::to_string(isa) << " element " << k);
      REQUIRE(double(y[k]) == ref.value[k]);
    }
  }
}

TEST_CASE("int4 dense: a row's result does not depend on the tile it lands in", "[compute][int4]") {
  // Every tile shape sums each output in the same order, so row r alone and row r inside a batch of 53 (a 48-row
  // chunk, then 5) agree exactly.
  const layer_data d = random_layer(130, 50, 53, 17);
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, 50, 130, d.bias, 64);
  for (compute::kernel_isa isa : kernel_sets()) {
    isa_guard guard(isa);
    std::vector<float> all(53 * 50), one(50);
    compute::dense_forward_serial(layer, d.x.data(), 53, all.data(), compute::activation::gelu);
    for (std::size_t r = 0; r < 53; ++r) {
      compute::dense_forward_serial(layer, d.x.data() + r * 130, 1, one.data(), compute::activation::gelu);
      for (std::size_t o = 0; o < 50; ++o) REQUIRE(one[o] == all[r * 50 + o]);
    }
  }
}

TEST_CASE("int4 dense: split over threads equals the serial result", "[compute][int4][threads]") {
  boost::asio::thread_pool pool(2);
  for (std::size_t batch : {std::size_t{3}, std::size_t{64}}) {  // split by panels, then by rows
    const layer_data d = random_layer(512, 200, batch, 23);
    const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, 200, 512, d.bias);
    std::vector<float> serial(batch * 200), split(batch * 200);
    compute::dense_forward(layer, d.x.data(), batch, serial.data(), compute::activation::relu);
    compute::dense_forward(layer, d.x.data(), batch, split.data(), compute::activation::relu,
                           {pool.get_executor(), 3, 16});
    CHECK(split == serial);
  }
  pool.join();
}

TEST_CASE("int4 dense: the AVX2 kernel agrees with the portable one", "[compute][int4][dispatch]") {
  if (!has_avx2()) {
    WARN("only the portable kernels on this CPU: skipped");
    return;
  }
  const layer_data d = random_layer(333, 45, 11, 40);
  const compute::quantized_dense_int4 layer = compute::quantize_int4(d.weights, 45, 333, d.bias, 128);
  std::vector<float> portable, avx2;
  {
    isa_guard guard(compute::kernel_isa::portable);
    portable = run(layer, d, compute::activation::tanh);
  }
  {
    isa_guard guard(compute::kernel_isa::avx2_fma);
    avx2 = run(layer, d, compute::activation::tanh);
  }
  const std::vector<double> rounding = int4_rounding_scale(d, layer);
  for (std::size_t k = 0; k < avx2.size(); ++k) {
    INFO("element " << k);
    REQUIRE(std::fabs(avx2[k] - portable[k]) <= 2 * fp32_tolerance(int4_roundings(layer), rounding[k], portable[k]));
  }
}

TEST_CASE("quantize_int4 rejects bad arguments, naming them", "[compute][int4][errors]") {
  const std::vector<float> weights(6), bias(2), short_bias(1);
  CHECK_THROWS_WITH(compute::quantize_int4(weights, 4, 3, std::vector<float>(4)),
                    Catch::Contains("quantize_int4: weights has 6 floats") && Catch::Contains("4 x 3 = 12"));
  CHECK_THROWS_WITH(compute::quantize_int4(weights, 2, 3, short_bias),
                    Catch::Contains("bias has 1 floats") && Catch::Contains("out_features = 2"));
  CHECK_THROWS_WITH(compute::quantize_int4(weights, 2, 0, bias),
                    Catch::Contains("in_features (0)") && Catch::Contains("at least 1"));
  CHECK_THROWS_WITH(compute::quantize_int4(weights, 2, 3, bias, 0), Catch::Contains("group_size (0)"));
  CHECK_THROWS_WITH(compute::quantize_int4(weights, 2, 3, bias, 12),
                    Catch::Contains("group_size (12)") && Catch::Contains("multiple of 8"));
  CHECK_THROWS_AS(compute::quantize_int4(weights, 2, 3, bias, 12), std::invalid_argument);
  CHECK_NOTHROW(compute::quantize_int4(weights, 2, 3, bias, 8));
}

}  // namespace compute_tests
