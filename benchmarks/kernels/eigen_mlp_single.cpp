// bench_kernels — Eigen MLP, single-threaded (EIGEN_DONT_PARALLELIZE), built with the best SIMD flags available.
#define EIGEN_DONT_PARALLELIZE
#define EIGEN_MLP_VARIANT single_thread
#include "eigen_mlp_impl.hpp"

namespace bench_kernels {

std::unique_ptr<eigen_mlp> make_eigen_mlp_single_thread(const mlp_weights& weights, std::size_t max_batch) {
  return std::make_unique<single_thread::eigen_mlp_impl>(weights, max_batch);
}

const char* eigen_simd_in_use() { return Eigen::SimdInstructionSetsInUse(); }

bool eigen_uses_avx2_fma() {
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
  return true;
#else
  return false;
#endif
}

}  // namespace bench_kernels
