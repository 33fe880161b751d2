// bench_kernels — Eigen MLP with Eigen's own OpenMP-parallel GEMM (Eigen::setNbThreads), when built with OpenMP.
#define EIGEN_MLP_VARIANT openmp
#include "eigen_mlp_impl.hpp"

namespace bench_kernels {

std::unique_ptr<eigen_mlp> make_eigen_mlp_openmp(const mlp_weights& weights, std::size_t max_batch, int threads) {
#if defined(_OPENMP)
  Eigen::setNbThreads(threads);
  return std::make_unique<openmp::eigen_mlp_impl>(weights, max_batch);
#else
  (void)weights;
  (void)max_batch;
  (void)threads;
  return nullptr;
#endif
}

}  // namespace bench_kernels
