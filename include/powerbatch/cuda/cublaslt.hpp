// RAII over cuBLASLt: the library handle, matmul descriptors, matrix layouts, heuristic preferences, and the
// heuristic query that picks an algorithm.
//
// Descriptors, layouts and preferences are host-side objects (they work without a GPU); the handle and the
// heuristic need a device. Constructors throw cuda::error with cuBLAS's message; all types are move-only and a
// moved-from object is empty.
#pragma once

#include <powerbatch/cuda/error.hpp>
#include <powerbatch/cuda/gemm_plan.hpp>
#include <powerbatch/cuda/unique_handle.hpp>

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <string>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

namespace detail {
struct cublaslt_handle_traits {
  using handle_type = cublasLtHandle_t;
  static void destroy(handle_type h) noexcept { (void)cublasLtDestroy(h); }
};
struct matmul_desc_traits {
  using handle_type = cublasLtMatmulDesc_t;
  static void destroy(handle_type d) noexcept { (void)cublasLtMatmulDescDestroy(d); }
};
struct matrix_layout_traits {
  using handle_type = cublasLtMatrixLayout_t;
  static void destroy(handle_type l) noexcept { (void)cublasLtMatrixLayoutDestroy(l); }
};
struct matmul_preference_traits {
  using handle_type = cublasLtMatmulPreference_t;
  static void destroy(handle_type p) noexcept { (void)cublasLtMatmulPreferenceDestroy(p); }
};
}  // namespace detail

// The cuBLASLt context, bound to the device current when it is created.
class cublaslt_handle {
 public:
  cublaslt_handle() {
    cublasLtHandle_t created = nullptr;
    POWERBATCH_CUDA_CHECK(cublasLtCreate(&created));
    handle_.reset(created);
  }
  cublasLtHandle_t get() const noexcept { return handle_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

 private:
  unique_handle<detail::cublaslt_handle_traits> handle_;
};

// What one matmul computes: compute and scale types, transposes, epilogue and bias pointer.
class matmul_desc {
 public:
  matmul_desc(cublasComputeType_t compute, cudaDataType_t scale) {
    cublasLtMatmulDesc_t created = nullptr;
    POWERBATCH_CUDA_CHECK(cublasLtMatmulDescCreate(&created, compute, scale));
    handle_.reset(created);
  }
  cublasLtMatmulDesc_t get() const noexcept { return handle_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  template <class T>
  void set_attribute(cublasLtMatmulDescAttributes_t which, const T& value) {
    POWERBATCH_CUDA_CHECK(cublasLtMatmulDescSetAttribute(get(), which, &value, sizeof(T)));
  }
  template <class T>
  T attribute(cublasLtMatmulDescAttributes_t which) const {
    T value{};
    std::size_t written = 0;
    POWERBATCH_CUDA_CHECK(cublasLtMatmulDescGetAttribute(get(), which, &value, sizeof(T), &written));
    return value;
  }

 private:
  unique_handle<detail::matmul_desc_traits> handle_;
};

// A column-major matrix's element type, rows, columns and leading dimension.
class matrix_layout {
 public:
  matrix_layout(cudaDataType_t type, const matrix_shape& shape) {
    cublasLtMatrixLayout_t created = nullptr;
    POWERBATCH_CUDA_CHECK(cublasLtMatrixLayoutCreate(&created, type, shape.rows, shape.cols, shape.ld));
    handle_.reset(created);
  }
  cublasLtMatrixLayout_t get() const noexcept { return handle_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  template <class T>
  T attribute(cublasLtMatrixLayoutAttribute_t which) const {
    T value{};
    std::size_t written = 0;
    POWERBATCH_CUDA_CHECK(cublasLtMatrixLayoutGetAttribute(get(), which, &value, sizeof(T), &written));
    return value;
  }

 private:
  unique_handle<detail::matrix_layout_traits> handle_;
};

// Limits for the heuristic: here only the workspace an algorithm may use.
class matmul_preference {
 public:
  explicit matmul_preference(std::size_t max_workspace_bytes) {
    cublasLtMatmulPreference_t created = nullptr;
    POWERBATCH_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&created));
    handle_.reset(created);
    const std::uint64_t bytes = max_workspace_bytes;
    POWERBATCH_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                               &bytes, sizeof(bytes)));
  }
  cublasLtMatmulPreference_t get() const noexcept { return handle_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  std::uint64_t max_workspace_bytes() const {
    std::uint64_t bytes = 0;
    std::size_t written = 0;
    POWERBATCH_CUDA_CHECK(cublasLtMatmulPreferenceGetAttribute(get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                               &bytes, sizeof(bytes), &written));
    return bytes;
  }

 private:
  unique_handle<detail::matmul_preference_traits> handle_;
};

// The heuristic's best algorithm for D = op(A)·op(B) with C = D. Throws cuda::error (CUBLAS_STATUS_NOT_SUPPORTED)
// naming the shape and type when cuBLASLt has none, so an unsupported model fails when it is built or warmed up,
// not on its first request.
inline cublasLtMatmulHeuristicResult_t best_algorithm(const cublaslt_handle& handle, const matmul_desc& desc,
                                                      const matrix_layout& a, const matrix_layout& b,
                                                      const matrix_layout& d, const matmul_preference& preference,
                                                      const gemm_shape& shape, precision p) {
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  POWERBATCH_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(handle.get(), desc.get(), a.get(), b.get(), d.get(), d.get(),
                                                       preference.get(), 1, &result, &found));
  if (found == 0 || result.state != CUBLAS_STATUS_SUCCESS) {
    throw error(make_error_code(found == 0 ? CUBLAS_STATUS_NOT_SUPPORTED : result.state),
                "cuBLASLt has no algorithm for " + std::string(to_string(p)) + " m=" + std::to_string(shape.m) +
                    " n=" + std::to_string(shape.n) + " k=" + std::to_string(shape.k) + " within " +
                    std::to_string(preference.max_workspace_bytes()) + " bytes of workspace");
  }
  return result;
}

}  // namespace cuda
POWERBATCH_END_NAMESPACE
