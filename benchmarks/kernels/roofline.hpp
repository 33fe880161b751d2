// bench_kernels — the machine's roofline, measured in the same binary: the arithmetic peak of the instructions the
// active kernels use (fp32: ymm or zmm FMAs; int8: the AVX2 sign/maddubs/madd sequence or AVX-512 VNNI's vpdpbusd)
// and read bandwidth for a given working set, on 1 or more threads running at once.
//
// The working set matters: the benchmark model's weights (8.4 MB fp32, 2.1 MB int8) fit in a 32 MB L3, so the
// bandwidth that bounds a small batch is the L3's for that size, not DRAM's. Both are measured and reported.
#pragma once

#include <powerbatch/compute/kernel_isa.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#if POWERBATCH_COMPUTE_X86_DISPATCH
#include <immintrin.h>
#endif

namespace bench_kernels {

using seconds = std::chrono::duration<double>;

#if POWERBATCH_COMPUTE_X86_DISPATCH
// 12 independent FMA chains: enough to cover latency 4 x 2 pipes (+ margin) on every AVX2 core.
__attribute__((target("avx2,fma"))) inline double fp32_flops_avx2(std::size_t iterations) {
  __m256 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start).count();
  __m256 sum = acc[0];
  for (int k = 1; k < 12; ++k) sum = _mm256_add_ps(sum, acc[k]);
  volatile float sink = _mm256_cvtss_f32(sum);
  (void)sink;
  return static_cast<double>(iterations) * 12 * 16 / elapsed;
}

// The int8 kernel's inner sequence (sign, maddubs, madd, add) on 4 independent chains (work across iterations is
// independent too, so latency is hidden); counts 2 ops per multiply-add. Few enough registers that nothing spills.
__attribute__((target("avx2,fma"))) inline double int8_ops_avx2(std::size_t iterations) {
  __m256i acc[4], w[4], aw[4];
  for (int k = 0; k < 4; ++k) {
    acc[k] = _mm256_set1_epi32(k);
    // A different weight per chain, or the compiler computes the product once for all chains.
    w[k] = _mm256_set1_epi8(static_cast<char>(k % 2 == 0 ? k + 1 : -(k + 1)));
    aw[k] = _mm256_abs_epi8(w[k]);
  }
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i x = _mm256_set1_epi8(5);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t n = 0; n < iterations; ++n) {
    x = _mm256_add_epi8(x, ones);  // keeps the compiler from hoisting the products
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_add_epi32(acc[k],
                                _mm256_madd_epi16(_mm256_maddubs_epi16(aw[k], _mm256_sign_epi8(x, w[k])), ones));
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start).count();
  __m256i sum = acc[0];
  for (int k = 1; k < 4; ++k) sum = _mm256_add_epi32(sum, acc[k]);
  volatile int sink = _mm256_extract_epi32(sum, 0);
  (void)sink;
  return static_cast<double>(iterations) * 4 * 32 * 2 / elapsed;
}

// The AVX-512 kernels' instructions: zmm FMAs (32 flops each) and vpdpbusd (64 multiply-adds, 128 ops), on 12
// independent chains (latency 4-5 x 2 pipes, with margin).
__attribute__((target("avx2,fma,avx512f"))) inline double fp32_flops_avx512(std::size_t iterations) {
  __m512 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start).count();
  __m512 sum = acc[0];
  for (int k = 1; k < 12; ++k) sum = _mm512_add_ps(sum, acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);  // not _mm512_reduce_add_ps: GCC 12 warns on its "undefined" operand
  volatile float sink = lanes[0];
  (void)sink;
  return static_cast<double>(iterations) * 12 * 32 / elapsed;
}

__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni"))) inline double int8_ops_avx512_vnni(
    std::size_t iterations) {
  __m512i acc[12], w[12];
  for (int k = 0; k < 12; ++k) {
    acc[k] = _mm512_set1_epi32(k);
    w[k] = _mm512_set1_epi8(static_cast<char>(k % 2 == 0 ? k + 1 : -(k + 1)));
  }
  __m512i x = _mm512_set1_epi8(5);
  const __m512i step = _mm512_set1_epi8(1);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t n = 0; n < iterations; ++n) {
    x = _mm512_add_epi8(x, step);  // keeps the compiler from hoisting the products
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], x, w[k]);
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start).count();
  __m512i sum = acc[0];
  for (int k = 1; k < 12; ++k) sum = _mm512_add_epi32(sum, acc[k]);
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  volatile std::int32_t sink = lanes[0];
  (void)sink;
  return static_cast<double>(iterations) * 12 * 64 * 2 / elapsed;
}

// vdpbf16ps: 16 lanes x 2 multiply-adds = 64 flops each, on 12 chains.
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16"))) inline double bf16_flops_avx512(
    std::size_t iterations) {
  __m512 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k) * 1e-3f);
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);  // 1, ~6e-8
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t n = 0; n < iterations; ++n) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start).count();
  __m512 sum = acc[0];
  for (int k = 1; k < 12; ++k) sum = _mm512_add_ps(sum, acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  volatile float sink = lanes[0];
  (void)sink;
  return static_cast<double>(iterations) * 12 * 64 / elapsed;
}

__attribute__((target("avx2,fma"))) inline double read_bytes_per_second_avx2(const float* data, std::size_t count,
                                                                              std::size_t passes) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t pass = 0; pass < passes; ++pass) {
    for (std::size_t i = 0; i + 32 <= count; i += 32) {
      acc0 = _mm256_add_ps(acc0, _mm256_load_ps(data + i));
      acc1 = _mm256_add_ps(acc1, _mm256_load_ps(data + i + 8));
      acc2 = _mm256_add_ps(acc2, _mm256_load_ps(data + i + 16));
      acc3 = _mm256_add_ps(acc3, _mm256_load_ps(data + i + 24));
    }
  }
  const double elapsed = seconds(std::chrono::steady_clock::now() - start).count();
  volatile float sink = _mm256_cvtss_f32(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  (void)sink;
  return static_cast<double>(count / 32 * 32) * sizeof(float) * static_cast<double>(passes) / elapsed;
}
#endif

// Runs measure() on `threads` threads at once and sums what they report; the best of `trials`.
template <typename Measure>
double on_threads(std::size_t threads, int trials, Measure measure) {
  double best = 0.0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> results(threads);
    std::vector<std::thread> workers;
    for (std::size_t k = 1; k < threads; ++k) workers.emplace_back([&, k] { results[k] = measure(k); });
    results[0] = measure(0);
    for (auto& w : workers) w.join();
    double total = 0.0;
    for (double r : results) total += r;
    best = std::max(best, total);
  }
  return best;
}

struct roofline {
  double fp32_flops = 0.0;        // per second, all threads
  double int8_ops = 0.0;          // per second (2 per multiply-add), all threads
  double bandwidth_fp32 = 0.0;    // bytes per second reading the fp32 model's weight bytes, all threads
  double bandwidth_int8 = 0.0;    // same for the int8 model's weight bytes
  double bandwidth_dram = 0.0;    // bytes per second reading 256 MiB, all threads

  // Attainable operations per second for a given arithmetic intensity (operations per byte).
  static double attainable(double peak, double bandwidth, double intensity) {
    return std::min(peak, bandwidth * intensity);
  }
};

inline double measure_bandwidth(std::size_t bytes_per_thread, std::size_t threads) {
#if POWERBATCH_COMPUTE_X86_DISPATCH
  if (powerbatch::compute::detected_kernel_isa() >= powerbatch::compute::kernel_isa::avx2_fma) {
    const std::size_t count = std::max<std::size_t>(bytes_per_thread / sizeof(float), 1024) / 32 * 32;
    std::vector<float*> buffers(threads);
    std::vector<std::unique_ptr<float[], void (*)(float*)>> owners;
    for (std::size_t k = 0; k < threads; ++k) {
      float* p = static_cast<float*>(::operator new(count * sizeof(float), std::align_val_t{64}));
      std::fill(p, p + count, 1.0f);
      owners.emplace_back(p, [](float* q) { ::operator delete(q, std::align_val_t{64}); });
      buffers[k] = p;
    }
    const std::size_t passes = std::max<std::size_t>(1, (std::size_t{1} << 28) / (count * sizeof(float)));
    return on_threads(threads, 10, [&](std::size_t k) {
      read_bytes_per_second_avx2(buffers[k], count, 1);  // warm the caches
      return read_bytes_per_second_avx2(buffers[k], count, passes);
    });
  }
#endif
  (void)bytes_per_thread;
  (void)threads;
  return 0.0;
}

// threads: how many cores the variant uses; each reads its share of the weights (column split) or all of them
// (row split) — the per-thread working set is bytes / threads for the small-batch, bandwidth-bound case.
inline roofline measure_roofline(std::size_t threads, std::size_t fp32_weight_bytes, std::size_t int8_weight_bytes) {
  roofline r;
#if POWERBATCH_COMPUTE_X86_DISPATCH
  using powerbatch::compute::kernel_isa;
  const kernel_isa isa = powerbatch::compute::active_kernel_isa();
  // Many short trials, best kept: on a shared machine some of them run undisturbed.
  if (isa >= kernel_isa::avx512) {
    r.fp32_flops = on_threads(threads, 15, [](std::size_t) { return fp32_flops_avx512(1'000'000); });
  } else if (isa >= kernel_isa::avx2_fma) {
    r.fp32_flops = on_threads(threads, 15, [](std::size_t) { return fp32_flops_avx2(2'000'000); });
  }
  if (isa >= kernel_isa::avx512_vnni) {
    r.int8_ops = on_threads(threads, 15, [](std::size_t) { return int8_ops_avx512_vnni(1'000'000); });
  } else if (isa >= kernel_isa::avx2_fma) {
    r.int8_ops = on_threads(threads, 15, [](std::size_t) { return int8_ops_avx2(2'000'000); });
  }
#endif
  r.bandwidth_fp32 = measure_bandwidth(fp32_weight_bytes / threads, threads);
  r.bandwidth_int8 = measure_bandwidth(int8_weight_bytes / threads, threads);
  r.bandwidth_dram = measure_bandwidth((std::size_t{256} << 20) / threads, threads);
  return r;
}

}  // namespace bench_kernels
