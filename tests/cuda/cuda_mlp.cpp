// backend/cuda_mlp.hpp: model and config validation (no GPU needed: it happens before any CUDA call), the
// matmul descriptor a layer gets, the no-GPU error, and on a GPU: every precision and activation against a
// double-precision host reference, the digits model against the CPU backend (cpu_mlp), large batches split in
// pieces, concurrent callers, warm-up, tensor_batch and moves.
#include <powerbatch/backend/cpu_mlp.hpp>
#include <powerbatch/backend/cuda_mlp.hpp>
#include <powerbatch/backend/tensor.hpp>
#include <powerbatch/compute/npy.hpp>

#include "gpu.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace cuda = powerbatch::cuda;
namespace compute = powerbatch::compute;
namespace backend = powerbatch::backend;
using compute::activation;

static_assert(powerbatch::tensor_backend<backend::cuda_mlp>);
static_assert(powerbatch::has_warm_up<backend::cuda_mlp>);
static_assert(powerbatch::batch_backend<backend::tensor_batch<backend::cuda_mlp>>);
static_assert(!std::is_copy_constructible_v<backend::cuda_mlp>);
static_assert(std::is_nothrow_move_constructible_v<backend::cuda_mlp>);

namespace {

compute::mlp_layer_weights random_layer(std::size_t inputs, std::size_t outputs, activation act, std::mt19937& rng) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(inputs));
  std::uniform_real_distribution<float> uniform(-scale, scale);
  compute::mlp_layer_weights layer{"", inputs, outputs, std::vector<float>(inputs * outputs),
                                   std::vector<float>(outputs), act};
  for (float& w : layer.weights) w = uniform(rng);
  for (float& b : layer.bias) b = uniform(rng);
  return layer;
}

backend::cuda_mlp_model small_model(activation hidden = activation::relu) {
  std::mt19937 rng(42);
  backend::cuda_mlp_model model;
  model.layers.push_back(random_layer(4, 8, hidden, rng));
  model.layers.push_back(random_layer(8, 3, activation::none, rng));
  return model;
}

std::vector<float> random_inputs(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

// The network in double precision, with cuBLASLt's tanh-approximated GELU.
std::vector<float> reference(const backend::cuda_mlp_model& model, const std::vector<float>& input, std::size_t rows) {
  std::vector<double> x(input.begin(), input.end());
  if (model.scaling) {
    const std::size_t width = model.scaling->features();
    std::vector<float> row(width);
    for (std::size_t r = 0; r < rows; ++r) {
      model.scaling->apply(input.data() + r * width, 1, row.data());
      std::copy(row.begin(), row.end(), x.begin() + static_cast<std::ptrdiff_t>(r * width));
    }
  }
  for (const auto& layer : model.layers) {
    const std::size_t inputs = layer.in_features, outputs = layer.out_features;
    std::vector<double> y(rows * outputs);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t o = 0; o < outputs; ++o) {
        double sum = layer.bias.empty() ? 0.0 : layer.bias[o];
        for (std::size_t i = 0; i < inputs; ++i)
          sum += x[r * inputs + i] * static_cast<double>(layer.weights[o * inputs + i]);
        switch (layer.activation) {
          case activation::relu: sum = std::max(sum, 0.0); break;
          case activation::gelu:
            sum = 0.5 * sum * (1.0 + std::tanh(0.7978845608028654 * (sum + 0.044715 * sum * sum * sum)));
            break;
          default: break;
        }
        y[r * outputs + o] = sum;
      }
    x = std::move(y);
  }
  const std::size_t width = model.layers.back().out_features;
  if (model.softmax_output)
    for (std::size_t r = 0; r < rows; ++r) {
      double* row = x.data() + r * width;
      const double top = *std::max_element(row, row + width);
      double sum = 0;
      for (std::size_t c = 0; c < width; ++c) sum += row[c] = std::exp(row[c] - top);
      for (std::size_t c = 0; c < width; ++c) row[c] /= sum;
    }
  return {x.begin(), x.end()};
}

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  return worst;
}

void expect_rejected(const backend::cuda_mlp_model& model, const backend::cuda_mlp_config& config,
                     const std::string& message) {
  try {
    backend::cuda_mlp gpu(model, config);
    FAIL("accepted; expected: " << message);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "cuda_mlp: " + message);
  }
}

}  // namespace

TEST_CASE("cuda_mlp rejects malformed models and configs before touching CUDA, naming the field", "[cuda][mlp]") {
  expect_rejected({}, {}, "the model has no layers");

  auto model = small_model();
  model.layers[0].weights.pop_back();
  expect_rejected(model, {},
                  "layer 1: weights has 31 values, expected out_features x in_features = 8 x 4 = 32 (layout "
                  "w[out][in])");

  model = small_model();
  model.layers[1].name = "fc2.weight.npy";
  model.layers[1].bias.resize(2);
  expect_rejected(model, {}, "layer 2 (fc2.weight.npy): bias has 2 values, expected out_features = 3 (or none)");

  model = small_model();
  model.layers[1].in_features = 7;
  model.layers[1].weights.resize(7 * 3);
  expect_rejected(model, {}, "layer 2: in_features is 7 but layer 1 has 8 out_features");

  model = small_model();
  model.layers[0].out_features = 0;
  expect_rejected(model, {}, "layer 1: in_features (4) and out_features (0) must both be at least 1");

  model = small_model(activation::sigmoid);
  expect_rejected(model, {},
                  "layer 1: activation sigmoid is not supported: cuBLASLt has no epilogue for it (supported: none, "
                  "relu, gelu)");
  model = small_model(activation::tanh);
  expect_rejected(model, {},
                  "layer 1: activation tanh is not supported: cuBLASLt has no epilogue for it (supported: none, "
                  "relu, gelu)");

  model = small_model();
  model.scaling.emplace(std::vector<float>(5, 0.0f), std::vector<float>(5, 1.0f));
  expect_rejected(model, {}, "scaling has 5 features but layer 1 takes 4");

  expect_rejected(small_model(), {.max_batch_size = 0}, "config.max_batch_size must be at least 1");
  expect_rejected(small_model(), {.max_in_flight = 0}, "config.max_in_flight must be at least 1");
  expect_rejected(small_model(), {.device = -1}, "config.device must be a device ordinal (0 or more)");
  expect_rejected(small_model(), {.precision = cuda::precision::fp16, .allow_tf32 = true},
                  "config.allow_tf32 applies to fp32 only, but precision is fp16");
}

TEST_CASE("cuda_mlp checks that run()'s views fit the model", "[cuda][mlp]") {
  using backend::cuda_mlp_detail::rows_of;
  CHECK(rows_of(3, 4, 3, 10, 4, 10) == 3);
  CHECK(rows_of(0, 4, 0, 10, 4, 10) == 0);
  CHECK_THROWS_WITH(rows_of(3, 5, 3, 10, 4, 10),
                    "cuda_mlp: run: views are [3, 5] -> [3, 10], the model maps [n, 4] -> [n, 10]");
  CHECK_THROWS_WITH(rows_of(3, 4, 2, 10, 4, 10),
                    "cuda_mlp: run: views are [3, 4] -> [2, 10], the model maps [n, 4] -> [n, 10]");
  CHECK_THROWS_AS(rows_of(3, 4, 3, 9, 4, 10), std::invalid_argument);
}

TEST_CASE("cuda_mlp stages inputs scaled and converted, and finishes outputs with the softmax", "[cuda][mlp]") {
  using namespace backend::cuda_mlp_detail;
  const float x[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};  // 2 rows of 3
  const compute::feature_scaling scaling({1.0f, 2.0f, 3.0f}, {1.0f, 2.0f, 0.5f});
  std::vector<float> scratch(3);

  std::uint16_t half[6];
  stage_inputs(cuda::precision::fp16, &scaling, x, 2, 3, scratch, reinterpret_cast<std::byte*>(half));
  // (x - mean) / std: row 0 = {0, 0, 0}, row 1 = {3, 1.5, 6}
  const std::uint16_t expected_half[6] = {0x0000, 0x0000, 0x0000, 0x4200, 0x3e00, 0x4600};
  CHECK(std::equal(half, half + 6, expected_half));

  float plain[6];
  stage_inputs(cuda::precision::fp32, nullptr, x, 2, 3, {}, reinterpret_cast<std::byte*>(plain));
  CHECK(std::equal(plain, plain + 6, x));

  std::uint16_t bf16[6];
  stage_inputs(cuda::precision::bf16, &scaling, x, 2, 3, scratch, reinterpret_cast<std::byte*>(bf16));
  CHECK(bf16[3] == cuda::float_to_bfloat16_bits(3.0f));
  CHECK(bf16[5] == cuda::float_to_bfloat16_bits(6.0f));

  // On the way out: fp16 {0, ln 3} -> softmax {1/4, 3/4} (to fp16's rounding of ln 3).
  const std::uint16_t logits[2] = {cuda::float_to_half_bits(0.0f), cuda::float_to_half_bits(std::log(3.0f))};
  float y[2];
  finish_outputs(cuda::precision::fp16, reinterpret_cast<const std::byte*>(logits), 1, 2, true, y);
  CHECK(y[0] == Approx(0.25f).epsilon(1e-3));
  CHECK(y[1] == Approx(0.75f).epsilon(1e-3));
  finish_outputs(cuda::precision::fp16, reinterpret_cast<const std::byte*>(logits), 1, 2, false, y);
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == cuda::half_bits_to_float(logits[1]));
}

TEST_CASE("lane_set lends each lane to one caller at a time and makes the others wait", "[cuda][mlp]") {
  struct fake_lane {
    std::atomic<int> users{0};
  };
  backend::cuda_mlp_detail::lane_set<fake_lane> lanes;
  lanes.add(std::make_unique<fake_lane>());
  lanes.add(std::make_unique<fake_lane>());
  CHECK(lanes.size() == 2);

  std::atomic<int> in_use{0}, most_in_use{0}, shared{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 6; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const auto lane = lanes.take();
        if (lane->users.fetch_add(1) != 0) ++shared;
        const int now = ++in_use;
        int seen = most_in_use.load();
        while (now > seen && !most_in_use.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        --in_use;
        lane->users.fetch_sub(1);
      }
    });
  for (auto& c : callers) c.join();
  CHECK(shared == 0);           // never two callers on one lane
  CHECK(most_in_use.load() <= 2);  // never more callers than lanes
  CHECK(most_in_use.load() >= 1);
  // Every lane came back: two more takes succeed without blocking.
  const auto first = lanes.take();
  const auto second = lanes.take();
  CHECK(&*first != &*second);
}

TEST_CASE("A layer's matmul gets the TN transposes, its epilogue and the bias pointer", "[cuda][mlp]") {
  for (auto [act, epilogue] : {std::pair{activation::none, CUBLASLT_EPILOGUE_BIAS},
                               std::pair{activation::relu, CUBLASLT_EPILOGUE_RELU_BIAS},
                               std::pair{activation::gelu, CUBLASLT_EPILOGUE_GELU_BIAS}}) {
    cuda::matmul_desc desc(CUBLAS_COMPUTE_32F, CUDA_R_32F);
    compute::mlp_layer_weights layer{"", 3, 4, std::vector<float>(12), {}, act};
    float fake_device_bias = 0;  // never dereferenced: no matmul runs
    backend::cuda_mlp_detail::configure_layer_matmul(desc, layer, &fake_device_bias);
    CHECK(desc.attribute<std::int32_t>(CUBLASLT_MATMUL_DESC_TRANSA) == CUBLAS_OP_T);
    CHECK(desc.attribute<std::int32_t>(CUBLASLT_MATMUL_DESC_TRANSB) == CUBLAS_OP_N);
    CHECK(desc.attribute<std::uint32_t>(CUBLASLT_MATMUL_DESC_EPILOGUE) == static_cast<std::uint32_t>(epilogue));
    CHECK(desc.attribute<const void*>(CUBLASLT_MATMUL_DESC_BIAS_POINTER) == &fake_device_bias);
  }
}

TEST_CASE("cuda_mlp takes a compute::mlp_model's layers, scaling and softmax", "[cuda][mlp]") {
  auto model = small_model();
  model.layers[0].name = "fc1.weight.npy";
  const compute::mlp_model cpu(model.layers, compute::feature_scaling({1, 2, 3, 4}, {1, 1, 2, 2}), true);
  const backend::cuda_mlp_model gpu = backend::cuda_mlp_detail::from_cpu_model(cpu);
  REQUIRE(gpu.layers.size() == 2);
  CHECK(gpu.layers[0].name == "fc1.weight.npy");
  CHECK(gpu.layers[0].weights == model.layers[0].weights);
  CHECK(gpu.layers[1].bias == model.layers[1].bias);
  CHECK(gpu.layers[0].activation == activation::relu);
  REQUIRE(gpu.scaling);
  CHECK(gpu.scaling->mean()[2] == 3.0f);
  CHECK(gpu.softmax_output);
}

TEST_CASE("cuda_mlp stages batches in power-of-two row buckets", "[cuda][mlp]") {
  using backend::cuda_mlp_detail::staging_rows;
  CHECK(staging_rows(1, 256) == 1);
  CHECK(staging_rows(3, 256) == 4);
  CHECK(staging_rows(64, 256) == 64);
  CHECK(staging_rows(65, 256) == 128);
  CHECK(staging_rows(200, 200) == 200);  // never above max_batch_size
  CHECK(staging_rows(129, 200) == 200);
}

TEST_CASE("cuda_mlp's host format conversion matches the precision", "[cuda][mlp]") {
  const float in[3] = {1.0f, 0.1f, -2.0f};
  std::uint16_t half[3];
  backend::cuda_mlp_detail::to_device_format(cuda::precision::fp16, in, 3, half);
  CHECK(half[1] == 0x2e66);
  std::uint16_t bf16[3];
  backend::cuda_mlp_detail::to_device_format(cuda::precision::bf16, in, 3, bf16);
  CHECK(bf16[1] == 0x3dcd);
  float back[3];
  backend::cuda_mlp_detail::from_device_format(cuda::precision::bf16, bf16, 3, back);
  CHECK(back[0] == 1.0f);
  CHECK(back[2] == -2.0f);
  float copy[3];
  backend::cuda_mlp_detail::to_device_format(cuda::precision::fp32, in, 3, copy);
  CHECK(copy[1] == 0.1f);
}

TEST_CASE("Without a GPU, a valid cuda_mlp fails with CUDA's no-device error", "[cuda][mlp]") {
  if (powerbatch_cuda_tests::gpu_visible()) {
    SUCCEED("a GPU is visible: the no-GPU path is not reachable here");
    return;
  }
  try {
    backend::cuda_mlp gpu(small_model());
    FAIL("constructed without a GPU");
  } catch (const cuda::error& e) {
    CHECK(e.code() == std::errc::no_such_device);
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("cuda_mlp: no usable GPU: "));
    CHECK_THAT(std::string(e.what()), Catch::Contains(e.code().message()));
  }
}

TEST_CASE("cuda_mlp matches the host reference in every precision", "[cuda][mlp][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  std::mt19937 rng(7);
  backend::cuda_mlp_model model;
  model.layers.push_back(random_layer(64, 128, activation::relu, rng));
  model.layers.push_back(random_layer(128, 96, activation::relu, rng));
  model.layers.push_back(random_layer(96, 10, activation::none, rng));
  model.layers[2].bias.clear();  // no bias: zeros (GELU has its own test: its device tanh may be approximate)
  std::vector<float> mean(64), stddev(64);
  for (std::size_t i = 0; i < 64; ++i) {
    mean[i] = 0.01f * static_cast<float>(i);
    stddev[i] = 0.5f + 0.02f * static_cast<float>(i);
  }

  struct variant {
    cuda::precision precision;
    bool tf32;
    double tolerance;
  };
  for (const variant v : {variant{cuda::precision::fp32, false, 1e-4}, variant{cuda::precision::fp32, true, 2e-2},
                          variant{cuda::precision::fp16, false, 2e-2}, variant{cuda::precision::bf16, false, 1e-1}}) {
    for (bool softmax_and_scaling : {false, true}) {
      INFO(cuda::to_string(v.precision) << (v.tf32 ? " tf32" : "") << (softmax_and_scaling ? " softmax+scaling" : ""));
      model.softmax_output = softmax_and_scaling;
      if (softmax_and_scaling)
        model.scaling.emplace(mean, stddev);
      else
        model.scaling.reset();
      backend::cuda_mlp gpu(model, {.precision = v.precision, .allow_tf32 = v.tf32, .max_batch_size = 64});
      CHECK(gpu.input_size() == 64);
      CHECK(gpu.output_size() == 10);
      CHECK(gpu.max_batch_size() == 64);
      for (std::size_t rows : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{150}}) {
        INFO("rows " << rows);
        const auto input = random_inputs(rows * 64, static_cast<std::uint32_t>(rows));
        std::vector<float> output(rows * 10, -1.0f);
        gpu.forward(input.data(), rows, output.data());
        CHECK(max_abs_difference(output, reference(model, input, rows)) < v.tolerance);
      }
    }
  }
}

TEST_CASE("cuBLASLt's GELU epilogue is the tanh approximation, close to the erf form", "[cuda][mlp][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  // One layer, identity weights: the output is gelu(x + bias) for x across [-6, 6].
  const std::size_t width = 64;
  backend::cuda_mlp_model model;
  model.layers.push_back({"", width, width, std::vector<float>(width * width, 0.0f), std::vector<float>(width, 0.5f),
                          activation::gelu});
  for (std::size_t i = 0; i < width; ++i) model.layers[0].weights[i * width + i] = 1.0f;
  backend::cuda_mlp gpu(model, {.max_batch_size = 4});
  std::vector<float> x(4 * width), y(4 * width);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -6.0f + 12.0f * static_cast<float>(i) / float(x.size() - 1);
  gpu.forward(x.data(), 4, y.data());
  double from_tanh = 0, from_erf = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = double(x[i]) + 0.5;
    const double tanh_form = 0.5 * v * (1.0 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    const double erf_form = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    from_tanh = std::max(from_tanh, std::abs(y[i] - tanh_form));
    from_erf = std::max(from_erf, std::abs(y[i] - erf_form));
  }
  INFO("largest difference from the tanh form " << from_tanh << ", from the erf form " << from_erf);
  CHECK(from_tanh < from_erf);  // which form it is: the two differ by up to 4.7e-4 near x = -2.7
  CHECK(from_erf < 2e-3);       // the documented bound against compute::activation::gelu (cpu_mlp)
}

#ifdef POWERBATCH_DIGITS_DIR
TEST_CASE("cuda_mlp runs the digits model as cpu_mlp does", "[cuda][mlp][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  const std::string folder = POWERBATCH_DIGITS_DIR;
  const auto images = compute::read_npy_float32(folder + "/X_test.npy");
  const std::size_t count = images.shape[0];
  REQUIRE(images.shape[1] == 64);

  auto cpu = backend::cpu_mlp::load(folder);
  std::vector<float> expected(count * 10);
  cpu.forward(images.values.data(), count, expected.data());

  struct variant {
    cuda::precision precision;
    double tolerance;        // on the probabilities
    std::size_t may_differ;  // images whose top class may change: half precision may flip a near tie
  };
  for (const auto [precision, tolerance, may_differ] :
       {variant{cuda::precision::fp32, 1e-4, 0}, variant{cuda::precision::fp16, 1e-2, 2},
        variant{cuda::precision::bf16, 5e-2, 5}}) {
    INFO(cuda::to_string(precision));
    auto gpu = backend::cuda_mlp::load(folder, {.precision = precision, .max_batch_size = 128});
    std::vector<float> probabilities(count * 10);
    gpu.forward(images.values.data(), count, probabilities.data());
    CHECK(max_abs_difference(probabilities, expected) < tolerance);
    std::size_t same_class = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const auto row = [&](const std::vector<float>& v) { return v.begin() + static_cast<std::ptrdiff_t>(i * 10); };
      same_class += std::max_element(row(probabilities), row(probabilities) + 10) - row(probabilities) ==
                    std::max_element(row(expected), row(expected) + 10) - row(expected);
    }
    CHECK(same_class + may_differ >= count);
  }
}
#endif

TEST_CASE("cuda_mlp runs concurrent callers, warms up, and survives a move", "[cuda][mlp][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  const auto model = small_model(activation::relu);
  backend::cuda_mlp gpu(model, {.max_batch_size = 32, .max_in_flight = 2});
  gpu.warm_up();
  const auto warmed = gpu.staging_stats();
  CHECK(warmed.misses > 0);

  auto four_callers = [&] {
    std::vector<std::thread> callers;
    std::vector<double> errors(4, 1.0);
    for (std::size_t t = 0; t < 4; ++t)
      callers.emplace_back([&, t] {
        double worst = 0;
        for (std::size_t i = 0; i < 50; ++i) {
          const std::size_t rows = 1 + (t * 50 + i) % 40;  // up to 40: some split in two pieces
          const auto input = random_inputs(rows * 4, static_cast<std::uint32_t>(t * 1000 + i));
          std::vector<float> output(rows * 3);
          gpu.forward(input.data(), rows, output.data());
          worst = std::max(worst, max_abs_difference(output, reference(model, input, rows)));
        }
        errors[t] = worst;
      });
    for (auto& c : callers) c.join();
    for (double e : errors) CHECK(e < 1e-4);
  };
  // warm_up stocked max_in_flight buffers per row bucket: concurrent callers allocate no pinned memory.
  four_callers();
  four_callers();
  CHECK(gpu.staging_stats().misses == warmed.misses);
  CHECK(gpu.staging_stats().hits > warmed.hits);

  backend::cuda_mlp moved = std::move(gpu);
  auto input = random_inputs(5 * 4, 99);
  std::vector<float> output(5 * 3);
  moved.run(powerbatch::make_tensor_view<const float>(input.data(), 5, 4),
            powerbatch::make_tensor_view<float>(output.data(), 5, 3));
  CHECK(max_abs_difference(output, reference(model, input, 5)) < 1e-4);
  CHECK_THROWS_AS(moved.run(powerbatch::make_tensor_view<const float>(input.data(), 4, 5),
                            powerbatch::make_tensor_view<float>(output.data(), 5, 3)),
                  std::invalid_argument);
}

TEST_CASE("tensor_batch runs cuda_mlp for the Batcher, one sample per request", "[cuda][mlp][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  const auto model = small_model(activation::relu);
  backend::tensor_batch<backend::cuda_mlp> batch(backend::cuda_mlp(model, {.max_batch_size = 8}));
  batch.warm_up();
  const auto flat = random_inputs(20 * 4, 5);
  std::vector<std::vector<float>> inputs(20), outputs(20);
  for (std::size_t i = 0; i < 20; ++i) inputs[i].assign(flat.begin() + 4 * i, flat.begin() + 4 * (i + 1));
  batch.run(inputs, outputs);
  const auto expected = reference(model, flat, 20);
  for (std::size_t i = 0; i < 20; ++i) {
    REQUIRE(outputs[i].size() == 3);
    for (std::size_t j = 0; j < 3; ++j) CHECK(std::abs(outputs[i][j] - expected[i * 3 + j]) < 1e-4);
  }
}

TEST_CASE("cuda_mlp refuses a device that does not exist", "[cuda][mlp][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  const int count = cuda::device_count().value;
  try {
    backend::cuda_mlp gpu(small_model(), {.device = count});
    FAIL("accepted a device that does not exist");
  } catch (const cuda::error& e) {
    CHECK(e.code() == std::errc::no_such_device);
    CHECK_THAT(std::string(e.what()), Catch::Contains("config.device is " + std::to_string(count)));
  }
}
