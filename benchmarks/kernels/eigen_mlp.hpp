// bench_kernels — the same MLP through Eigen's GEMM, the baseline. Each variant lives in its own TU so it can be
// compiled with its own flags (see meson.build): single-threaded with EIGEN_DONT_PARALLELIZE, and the OpenMP build
// for Eigen's own 2-thread GEMM. No Eigen header leaks into bench_kernels.cpp.
#pragma once

#include "mlp_weights.hpp"

#include <cstddef>
#include <memory>

namespace bench_kernels {

class eigen_mlp {
 public:
  virtual ~eigen_mlp() = default;
  // y (batch x 10) = softmax(L3(relu(L2(relu(L1(x)))))); buffers for max_batch are allocated up front.
  virtual void forward(const float* x, std::size_t batch, float* y) = 0;
};

std::unique_ptr<eigen_mlp> make_eigen_mlp_single_thread(const mlp_weights& weights, std::size_t max_batch);
// Eigen parallelises its GEMM with OpenMP; threads is passed to Eigen::setNbThreads. Null when built without OpenMP.
std::unique_ptr<eigen_mlp> make_eigen_mlp_openmp(const mlp_weights& weights, std::size_t max_batch, int threads);
// The instruction sets the Eigen TUs were compiled for (Eigen::SimdInstructionSetsInUse()).
const char* eigen_simd_in_use();
// Whether the Eigen TUs vectorise with AVX2 and FMA (Eigen's own EIGEN_VECTORIZE_AVX2 / _FMA).
bool eigen_uses_avx2_fma();

}  // namespace bench_kernels
