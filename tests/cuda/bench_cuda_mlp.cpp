// bench_cuda_mlp: rows per second through backend::cuda_mlp (fp32, TF32, fp16, bf16) against backend::cpu_mlp
// (fp32 on one core) on the same networks, at several batch sizes. Google Benchmark; GPU cases are skipped with
// CUDA's message where no GPU is visible. Full run (release build):
//   ./build/tests/cuda/bench_cuda_mlp
//   ./build/tests/cuda/bench_cuda_mlp --benchmark_filter=wide --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// Networks: "digits" (examples/models/digits: 64 -> hidden -> 10 with scaling and softmax, tiny: launch-bound) and
// "wide" (1024 -> 4096 -> 4096 -> 1024, relu: compute-bound, where tensor cores pay).
#include <powerbatch/backend/cpu_mlp.hpp>
#include <powerbatch/backend/cuda_mlp.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace pb = powerbatch;
using pb::compute::activation;

namespace {

pb::compute::mlp_layer_weights random_layer(std::size_t in, std::size_t out, activation act, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f / std::sqrt(float(in)), 1.0f / std::sqrt(float(in)));
  pb::compute::mlp_layer_weights layer{"", in, out, std::vector<float>(in * out), std::vector<float>(out), act};
  for (float& w : layer.weights) w = uniform(rng);
  for (float& b : layer.bias) b = uniform(rng);
  return layer;
}

pb::compute::mlp_model make_model(const std::string& name) {
  if (name == "digits") return pb::compute::load_mlp(std::string(POWERBATCH_DIGITS_DIR));
  std::mt19937 rng(1);
  std::vector<pb::compute::mlp_layer_weights> layers;
  layers.push_back(random_layer(1024, 4096, activation::relu, rng));
  layers.push_back(random_layer(4096, 4096, activation::relu, rng));
  layers.push_back(random_layer(4096, 1024, activation::none, rng));
  return pb::compute::mlp_model(std::move(layers), std::nullopt, false);
}

// One model per name, loaded once: building the wide one takes a while.
const pb::compute::mlp_model& model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<pb::compute::mlp_model>> cache;
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<pb::compute::mlp_model>(make_model(name));
  return *slot;
}

std::vector<float> inputs(std::size_t count) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(count);
  for (float& v : x) v = uniform(rng);
  return x;
}

void bench_cpu(benchmark::State& state, const std::string& name) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  pb::backend::cpu_mlp cpu(model(name), {.max_batch_size = batch});
  cpu.warm_up();
  const auto x = inputs(batch * model(name).input_size());
  std::vector<float> y(batch * model(name).output_size());
  for (auto _ : state) {
    cpu.forward(x.data(), batch, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}

void bench_gpu(benchmark::State& state, const std::string& name, pb::cuda::precision precision, bool tf32) {
  const auto devices = pb::cuda::device_count();
  if (devices.error) {
    state.SkipWithError(("no GPU visible: " + devices.detail).c_str());
    for (auto _ : state) {
    }
    return;
  }
  const auto batch = static_cast<std::size_t>(state.range(0));
  pb::backend::cuda_mlp gpu(model(name), {.precision = precision, .allow_tf32 = tf32, .max_batch_size = batch});
  gpu.warm_up();
  const auto x = inputs(batch * gpu.input_size());
  std::vector<float> y(batch * gpu.output_size());
  for (auto _ : state) {
    gpu.forward(x.data(), batch, y.data());  // host -> GPU -> host, synchronous: the latency a batch sees
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}

void batches(benchmark::internal::Benchmark* b) {
  for (int n : {1, 32, 256}) b->Arg(n);
  b->ArgName("batch")->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bench_cpu, digits_cpu_fp32, std::string("digits"))->Apply(batches);
BENCHMARK_CAPTURE(bench_gpu, digits_gpu_fp32, std::string("digits"), pb::cuda::precision::fp32, false)->Apply(batches);
BENCHMARK_CAPTURE(bench_gpu, digits_gpu_fp16, std::string("digits"), pb::cuda::precision::fp16, false)->Apply(batches);
BENCHMARK_CAPTURE(bench_cpu, wide_cpu_fp32, std::string("wide"))->Apply(batches);
BENCHMARK_CAPTURE(bench_gpu, wide_gpu_fp32, std::string("wide"), pb::cuda::precision::fp32, false)->Apply(batches);
BENCHMARK_CAPTURE(bench_gpu, wide_gpu_tf32, std::string("wide"), pb::cuda::precision::fp32, true)->Apply(batches);
BENCHMARK_CAPTURE(bench_gpu, wide_gpu_fp16, std::string("wide"), pb::cuda::precision::fp16, false)->Apply(batches);
BENCHMARK_CAPTURE(bench_gpu, wide_gpu_bf16, std::string("wide"), pb::cuda::precision::bf16, false)->Apply(batches);

BENCHMARK_MAIN();
