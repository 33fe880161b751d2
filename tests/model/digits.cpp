// The digits model (examples/models/digits, trained by its train.py on scikit-learn's 8x8 digits): fp32 top-1
// accuracy on the held-out split, int8 agreement with fp32, validate(), warm_up(), and threads that change nothing.
#include <powerbatch/backend/cpu_mlp.hpp>
#include <powerbatch/compute/model.hpp>
#include <powerbatch/compute/npy.hpp>

#include <boost/asio/thread_pool.hpp>

#include <catch2/catch.hpp>

#include "digits_data.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace pb = powerbatch;
namespace compute = powerbatch::compute;
using Catch::Matchers::Contains;

using model_test::agreement;
using model_test::digits_dir;
using model_test::held_out;
using model_test::predictions;

TEST_CASE("digits: fp32 top-1 >= 0.95; int8 agrees on >= 99% and loses <= 0.5 points", "[digits]") {
  const held_out data;
  REQUIRE(data.x.shape == std::vector<std::size_t>{data.count(), 64});
  const compute::mlp_model fp32 = compute::load_mlp(digits_dir);
  REQUIRE(fp32.input_size() == 64);
  REQUIRE(fp32.output_size() == 10);
  const compute::quantized_mlp int8 = compute::quantize_int8(fp32);

  std::vector<float> out32(data.count() * 10), out8(data.count() * 10);
  fp32.forward(data.x.values.data(), data.count(), out32.data());
  int8.forward(data.x.values.data(), data.count(), out8.data());
  const auto p32 = predictions(out32, 10), p8 = predictions(out8, 10);
  const double accuracy32 = agreement(p32, data.y.values), accuracy8 = agreement(p8, data.y.values);
  const double agree = agreement(p32, p8);
  std::printf("digits held-out (%zu images): fp32 top-1 %.4f, int8 top-1 %.4f, int8/fp32 agreement %.4f\n",
              data.count(), accuracy32, accuracy8, agree);
  CHECK(accuracy32 >= 0.95);
  CHECK(agree >= 0.99);
  CHECK(accuracy8 >= accuracy32 - 0.005);
  // Softmax rows: probabilities that sum to one.
  for (std::size_t i = 0; i < data.count(); ++i) {
    float sum = 0;
    for (std::size_t c = 0; c < 10; ++c) sum += out32[i * 10 + c];
    CHECK(sum == Approx(1.0f).margin(1e-5));
  }
}

TEST_CASE("digits: cpu_mlp validate() checks known inputs against labels or outputs", "[digits][validate]") {
  const held_out data;
  auto fp32 = pb::backend::cpu_mlp::load(digits_dir, pb::backend::mlp_precision::fp32, {.max_batch_size = 64});
  CHECK(fp32.precision() == pb::backend::mlp_precision::fp32);

  SECTION("labels") {
    const auto good = fp32.validate(data.x.values, data.y.values, 0.95);
    CHECK(good.ok);
    CHECK(good.samples == data.count());
    CHECK(good.accuracy >= 0.95);
    const auto strict = fp32.validate(data.x.values, data.y.values, 1.0);
    CHECK_FALSE(strict.ok);  // the model misses a few held-out digits
    CHECK(strict.failures > 0);
    CHECK_THAT(strict.message, Contains("first miss: sample") && Contains("required 1.0"));
  }
  SECTION("expected outputs") {
    std::vector<float> expected(data.count() * 10);
    fp32.forward(data.x.values.data(), data.count(), expected.data());
    const auto same = fp32.validate(data.x.values, expected, 1e-6f);
    CHECK(same.ok);
    CHECK(same.max_abs_error <= 1e-6);
    expected[3 * 10 + 4] += 0.5f;
    const auto off = fp32.validate(data.x.values, expected, 1e-3f);
    CHECK_FALSE(off.ok);
    CHECK(off.failures == 1);
    CHECK_THAT(off.message, Contains("sample 3 output 4"));

    auto int8 = pb::backend::cpu_mlp::load(digits_dir, pb::backend::mlp_precision::int8);
    CHECK(int8.precision() == pb::backend::mlp_precision::int8);
    expected[3 * 10 + 4] -= 0.5f;
    CHECK(int8.validate(data.x.values, expected, 0.2f).ok);     // close to fp32 ...
    CHECK_FALSE(int8.validate(data.x.values, expected, 0.0f).ok);  // ... but not bit-identical
  }
  SECTION("malformed validation data is reported, not run") {
    const auto bad = fp32.validate(std::span<const float>(data.x.values).first(100), data.y.values, 0.9);
    CHECK_FALSE(bad.ok);
    CHECK_THAT(bad.message, Contains("inputs hold 100 values"));
  }
}

TEST_CASE("digits: warm_up fills the scratch pool; later batches reuse it", "[digits]") {
  auto model = pb::backend::cpu_mlp::load(digits_dir, pb::backend::mlp_precision::fp32, {.max_batch_size = 32});
  model.warm_up();
  const auto before = model.scratch_stats();
  CHECK(before.misses == 1);
  std::vector<float> x(32 * 64, 1.0f), y(32 * 10);
  model.forward(x.data(), 32, y.data());
  CHECK(model.scratch_stats().hits == before.hits + 1);
  CHECK(model.scratch_stats().misses == 1);
}

TEST_CASE("digits: splitting a batch over threads gives the same outputs", "[digits][threads]") {
  const held_out data;
  boost::asio::thread_pool threads(2);
  for (auto precision : {pb::backend::mlp_precision::fp32, pb::backend::mlp_precision::int8}) {
    auto one = pb::backend::cpu_mlp::load(digits_dir, precision, {.max_batch_size = 512});
    auto split = pb::backend::cpu_mlp::load(
        digits_dir, precision,
        {.max_batch_size = 512, .parallel = {.executor = threads.get_executor(), .max_threads = 3,
                                             .min_rows_per_thread = 16}});
    std::vector<float> a(data.count() * 10), b(data.count() * 10);
    one.forward(data.x.values.data(), data.count(), a.data());
    split.forward(data.x.values.data(), data.count(), b.data());
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(b[i] == Approx(a[i]).margin(1e-6));
  }
  threads.join();
}
