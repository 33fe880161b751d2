// bench_kernels — powerbatch's dense kernels against Eigen on a 1024-1024-1024-10 MLP (relu, relu, none, softmax).
//
// Benchmarks, for batch B in 1..256 (counter items_per_second = samples/s):
//   powerbatch_fp32/mlp/batch:B, eigen_fp32/mlp/batch:B, powerbatch_int8/mlp/batch:B,
//   powerbatch_int4/mlp/batch:B, powerbatch_bf16/mlp/batch:B (only with AVX512-BF16)   one core
//   the same with /threads:2                                                           caller + 1 pool thread
//                                                                                      (Eigen: its OpenMP GEMM)
// Counters: gflops (2 x multiply-adds per second; for int8, integer operations), roofline_fraction = achieved /
// min(peak, bandwidth x intensity), with peak and bandwidth measured at start-up by this binary (roofline.hpp)
// and printed in the context. Intensity counts the weight bytes once per batch (they dominate the traffic). int4
// (weight-only, fp32 FMAs on the AVX2 kernel) is held to the AVX2 fp32 FMA peak and the bandwidth of reading its
// own (int4 + scales) weight bytes; bf16 to the vdpbf16ps peak and the bandwidth of its bf16 weight bytes.
//
// Timing: one-thread variants report the benchmark thread's CPU time, two-thread variants wall time.
// Full run (release build; on a shared machine interleave the repetitions so load changes hit all variants alike):
//   ./bench_kernels --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true
//                   --benchmark_report_aggregates_only=true
#include "eigen_mlp.hpp"
#include "mlp_weights.hpp"
#include "roofline.hpp"

#include <powerbatch/compute/dense.hpp>
#include <powerbatch/compute/dense_bf16.hpp>
#include <powerbatch/compute/dense_int4.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/thread_pool.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace bench_kernels {
namespace {

namespace compute = powerbatch::compute;

constexpr std::size_t max_batch = 256;
constexpr std::array<std::size_t, 9> batches{1, 2, 4, 8, 16, 32, 64, 128, 256};
constexpr std::array<compute::activation, 3> activations{compute::activation::relu, compute::activation::relu,
                                                         compute::activation::none};

// The MLP built from powerbatch's dense API: three layers, two hidden buffers, softmax at the end.
template <typename Layer>
class powerbatch_mlp {
 public:
  template <typename Make>
  powerbatch_mlp(const mlp_weights& weights, Make make) {
    for (std::size_t l = 0; l < 3; ++l) {
      const layer_weights& w = weights.layers[l];
      layers_.push_back(make(w));
    }
    hidden_[0].resize(max_batch * weights.layers[0].out);
    hidden_[1].resize(max_batch * weights.layers[1].out);
  }

  void forward(const float* x, std::size_t batch, float* y, const compute::parallel_options& options) {
    compute::dense_forward(layers_[0], x, batch, hidden_[0].data(), activations[0], options);
    compute::dense_forward(layers_[1], hidden_[0].data(), batch, hidden_[1].data(), activations[1], options);
    compute::dense_forward(layers_[2], hidden_[1].data(), batch, y, activations[2], options);
    compute::softmax_rows(y, batch, layers_[2].out_features());
  }

  std::size_t weight_bytes() const {
    std::size_t total = 0;
    for (const auto& l : layers_) total += l.bytes();
    return total;
  }

 private:
  std::vector<Layer> layers_;
  std::array<std::vector<float>, 2> hidden_;
};

struct shared_setup {
  mlp_weights weights = make_mlp();
  std::vector<float> input;
  std::vector<float> output;
  std::unique_ptr<powerbatch_mlp<compute::packed_dense_fp32>> fp32;
  std::unique_ptr<powerbatch_mlp<compute::quantized_dense_int8>> int8;
  std::unique_ptr<powerbatch_mlp<compute::quantized_dense_int4>> int4;
  std::unique_ptr<powerbatch_mlp<compute::packed_dense_bf16>> bf16;
  std::unique_ptr<eigen_mlp> eigen_single;
  std::unique_ptr<eigen_mlp> eigen_openmp;
  boost::asio::thread_pool helper_pool{1};  // the second thread of the 2-thread variants
  std::array<roofline, 3> rooflines{};      // by thread count (1, 2)
  std::array<double, 3> int4_peak{};        // AVX2 fp32 FMAs per second, by thread count
  std::array<double, 3> int4_bandwidth{};   // bytes per second reading the int4 model's weight bytes
  std::array<double, 3> bf16_peak{};        // vdpbf16ps flops per second, by thread count
  std::array<double, 3> bf16_bandwidth{};   // bytes per second reading the bf16 model's weight bytes

  shared_setup() {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    input.resize(max_batch * weights.input_size());
    for (float& v : input) v = normal(rng);
    output.resize(max_batch * weights.output_size());
    fp32 = std::make_unique<powerbatch_mlp<compute::packed_dense_fp32>>(weights, [](const layer_weights& w) {
      return compute::packed_dense_fp32(w.weights, w.out, w.in, w.bias);
    });
    int8 = std::make_unique<powerbatch_mlp<compute::quantized_dense_int8>>(weights, [](const layer_weights& w) {
      return compute::quantize_int8(w.weights, w.out, w.in, w.bias);
    });
    int4 = std::make_unique<powerbatch_mlp<compute::quantized_dense_int4>>(weights, [](const layer_weights& w) {
      return compute::quantize_int4(w.weights, w.out, w.in, w.bias);
    });
    bf16 = std::make_unique<powerbatch_mlp<compute::packed_dense_bf16>>(weights, [](const layer_weights& w) {
      return compute::quantize_bf16(w.weights, w.out, w.in, w.bias);
    });
    eigen_single = make_eigen_mlp_single_thread(weights, max_batch);
    eigen_openmp = make_eigen_mlp_openmp(weights, max_batch, 2);
  }
};

shared_setup& setup() {
  static shared_setup s;
  return s;
}

compute::parallel_options options_for(std::size_t threads) {
  if (threads <= 1) return {};
  return compute::parallel_options{setup().helper_pool.get_executor(), threads, 16};
}

enum class variant { powerbatch_fp32, eigen_fp32, powerbatch_int8, powerbatch_int4, powerbatch_bf16 };

void set_counters(benchmark::State& state, variant v, std::size_t batch, std::size_t threads) {
  shared_setup& s = setup();
  const double operations = 2.0 * static_cast<double>(s.weights.multiply_adds_per_sample() * batch);
  const bool int8 = v == variant::powerbatch_int8, int4 = v == variant::powerbatch_int4,
             bf16 = v == variant::powerbatch_bf16;
  const double weight_bytes = static_cast<double>(int8   ? s.int8->weight_bytes()
                                                  : int4 ? s.int4->weight_bytes()
                                                  : bf16 ? s.bf16->weight_bytes()
                                                         : s.weights.weight_count() * sizeof(float));
  const roofline& r = s.rooflines[threads];
  const double peak = int8 ? r.int8_ops : int4 ? s.int4_peak[threads] : bf16 ? s.bf16_peak[threads] : r.fp32_flops;
  const double bandwidth = int8   ? r.bandwidth_int8
                           : int4 ? s.int4_bandwidth[threads]
                           : bf16 ? s.bf16_bandwidth[threads]
                                  : r.bandwidth_fp32;
  const double attainable = roofline::attainable(peak, bandwidth, operations / weight_bytes);
  const double iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(batch));
  state.counters["gflops"] = benchmark::Counter(operations * iterations / 1e9, benchmark::Counter::kIsRate);
  if (attainable > 0.0) {
    state.counters["roofline_fraction"] =
        benchmark::Counter(operations * iterations / attainable, benchmark::Counter::kIsRate);
  }
}

void run_variant(benchmark::State& state, variant v, std::size_t batch, std::size_t threads) {
  shared_setup& s = setup();
  const compute::parallel_options options = options_for(threads);
  eigen_mlp* eigen = threads > 1 ? s.eigen_openmp.get() : s.eigen_single.get();
  for (auto _ : state) {
    switch (v) {
      case variant::powerbatch_fp32: s.fp32->forward(s.input.data(), batch, s.output.data(), options); break;
      case variant::powerbatch_int8: s.int8->forward(s.input.data(), batch, s.output.data(), options); break;
      case variant::powerbatch_int4: s.int4->forward(s.input.data(), batch, s.output.data(), options); break;
      case variant::powerbatch_bf16: s.bf16->forward(s.input.data(), batch, s.output.data(), options); break;
      case variant::eigen_fp32: eigen->forward(s.input.data(), batch, s.output.data()); break;
    }
    benchmark::DoNotOptimize(s.output.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, v, batch, threads);
}

void register_all() {
  const std::array<std::pair<variant, const char*>, 5> variants{{{variant::powerbatch_fp32, "powerbatch_fp32"},
                                                                 {variant::eigen_fp32, "eigen_fp32"},
                                                                 {variant::powerbatch_int8, "powerbatch_int8"},
                                                                 {variant::powerbatch_int4, "powerbatch_int4"},
                                                                 {variant::powerbatch_bf16, "powerbatch_bf16"}}};
  // bf16 without AVX512-BF16 is the plain C++ reference path: slow, and not what anyone would run.
  const bool bf16_kernel =
      powerbatch::compute::active_kernel_isa() >= powerbatch::compute::kernel_isa::avx512_bf16;
  for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
    for (std::size_t batch : batches) {
      for (const auto& entry : variants) {
        const variant v = entry.first;  // not a structured binding: clang 14 cannot capture those
        const char* name = entry.second;
        if (v == variant::eigen_fp32 && threads > 1 && !setup().eigen_openmp) continue;
        if (v == variant::powerbatch_bf16 && !bf16_kernel) continue;
        std::string full = std::string(name) + "/mlp/batch:" + std::to_string(batch);
        if (threads > 1) full += "/threads:" + std::to_string(threads);
        auto* registered = benchmark::RegisterBenchmark(full.c_str(), [v, batch, threads](benchmark::State& state) {
          run_variant(state, v, batch, threads);
        });
        // One thread: the benchmark thread's CPU time, which on a shared machine leaves out the time other
        // processes held the core. Two threads: wall time (the helper's CPU time is not the caller's).
        if (threads > 1) registered->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace bench_kernels

int main(int argc, char** argv) {
  using namespace bench_kernels;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  shared_setup& s = setup();
  const std::size_t fp32_bytes = s.weights.weight_count() * sizeof(float);
  const std::size_t int8_bytes = s.int8->weight_bytes();
  for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
    const roofline r = measure_roofline(threads, fp32_bytes, int8_bytes);
    s.rooflines[threads] = r;
    const std::string prefix = "roofline_" + std::to_string(threads) + "t_";
    benchmark::AddCustomContext(prefix + "fp32_gflops", std::to_string(r.fp32_flops / 1e9));
    benchmark::AddCustomContext(prefix + "int8_gops", std::to_string(r.int8_ops / 1e9));
    benchmark::AddCustomContext(prefix + "bandwidth_fp32_weights_gbs", std::to_string(r.bandwidth_fp32 / 1e9));
    benchmark::AddCustomContext(prefix + "bandwidth_int8_weights_gbs", std::to_string(r.bandwidth_int8 / 1e9));
    benchmark::AddCustomContext(prefix + "bandwidth_dram_gbs", std::to_string(r.bandwidth_dram / 1e9));
    // int4: through roofline.hpp's own measurements, for its kernel's instructions and working set.
#if POWERBATCH_COMPUTE_X86_DISPATCH
    if (powerbatch::compute::detected_kernel_isa() >= powerbatch::compute::kernel_isa::avx2_fma)
      s.int4_peak[threads] = on_threads(threads, 15, [](std::size_t) { return fp32_flops_avx2(2'000'000); });
#endif
    s.int4_bandwidth[threads] = measure_bandwidth(s.int4->weight_bytes() / threads, threads);
    benchmark::AddCustomContext(prefix + "int4_gflops", std::to_string(s.int4_peak[threads] / 1e9));
    benchmark::AddCustomContext(prefix + "bandwidth_int4_weights_gbs", std::to_string(s.int4_bandwidth[threads] / 1e9));
#if POWERBATCH_COMPUTE_X86_DISPATCH
    if (powerbatch::compute::active_kernel_isa() >= powerbatch::compute::kernel_isa::avx512_bf16) {
      s.bf16_peak[threads] = on_threads(threads, 15, [](std::size_t) { return bf16_flops_avx512(1'000'000); });
      s.bf16_bandwidth[threads] = measure_bandwidth(s.bf16->weight_bytes() / threads, threads);
      benchmark::AddCustomContext(prefix + "bf16_gflops", std::to_string(s.bf16_peak[threads] / 1e9));
      benchmark::AddCustomContext(prefix + "bandwidth_bf16_weights_gbs",
                                  std::to_string(s.bf16_bandwidth[threads] / 1e9));
    }
#endif
  }
  benchmark::AddCustomContext("kernel_isa", std::string(powerbatch::compute::to_string(
                                                powerbatch::compute::active_kernel_isa())));
  benchmark::AddCustomContext("eigen_simd", eigen_simd_in_use());
  benchmark::AddCustomContext("eigen_avx2_fma", eigen_uses_avx2_fma() ? "yes" : "no");
  benchmark::AddCustomContext("eigen_two_threads", s.eigen_openmp ? "openmp" : "not built (no OpenMP)");
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
