// bench_kernels — Eigen MLP implementation, included by the two Eigen TUs (single-thread and OpenMP builds).
//
// Eigen is given its best case: W stored as the transposed (in x out) column-major matrix, so y = x * W^T is a
// plain GEMM (a contiguous GEMV at batch 1), outputs preallocated per layer, noalias() to skip temporaries, the
// bias added and the activation applied as array expressions Eigen vectorises.
#pragma once

#include "eigen_mlp.hpp"

#include <powerbatch/compute/softmax.hpp>

#include <Eigen/Core>

#include <array>

namespace bench_kernels::EIGEN_MLP_VARIANT {

using row_major = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using col_major = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

class eigen_mlp_impl final : public eigen_mlp {
 public:
  eigen_mlp_impl(const mlp_weights& weights, std::size_t max_batch) {
    for (std::size_t l = 0; l < 3; ++l) {
      const layer_weights& src = weights.layers[l];
      // src is w[out][in] row-major, which is exactly W^T (in x out) column-major.
      transposed_[l] = Eigen::Map<const col_major>(src.weights.data(), static_cast<Eigen::Index>(src.in),
                                                   static_cast<Eigen::Index>(src.out));
      bias_[l] = Eigen::Map<const Eigen::RowVectorXf>(src.bias.data(), static_cast<Eigen::Index>(src.out));
      outputs_[l].resize(static_cast<Eigen::Index>(max_batch), static_cast<Eigen::Index>(src.out));
    }
  }

  void forward(const float* x, std::size_t batch, float* y) override {
    const auto rows = static_cast<Eigen::Index>(batch);
    Eigen::Map<const row_major> input(x, rows, transposed_[0].rows());
    for (std::size_t l = 0; l < 3; ++l) {
      auto out = outputs_[l].topRows(rows);
      if (l == 0) {
        out.noalias() = input * transposed_[l];
      } else {
        out.noalias() = outputs_[l - 1].topRows(rows) * transposed_[l];
      }
      out.rowwise() += bias_[l];
      if (l < 2) out = out.array().max(0.0f).matrix();
    }
    const auto& last = outputs_[2];
    Eigen::Map<row_major>(y, rows, last.cols()) = last.topRows(rows);
    powerbatch::compute::softmax_rows(y, batch, static_cast<std::size_t>(last.cols()));
  }

 private:
  std::array<col_major, 3> transposed_;
  std::array<Eigen::RowVectorXf, 3> bias_;
  std::array<row_major, 3> outputs_;
};

}  // namespace bench_kernels::EIGEN_MLP_VARIANT
