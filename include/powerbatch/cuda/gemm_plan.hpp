// How a dense layer becomes one cuBLASLt matmul: precisions, epilogues and the row-major -> column-major trick.
//
// Pure functions with no GPU work, so every choice here is testable on a machine without one.
//
// The layout trick. The model stores W[out][in] row-major and a batch X[batch][in] row-major, and wants
// Y[batch][out] = X·Wᵀ + b row-major. cuBLASLt is column-major, and a row-major r×c matrix read as column-major is
// its c×r transpose. So without copying anything:
//   X's buffer is Xᵀ (in×batch, ld = in)       -> B, not transposed
//   W's buffer is Wᵀ (in×out, ld = in)         -> A, transposed (op(A) = W, out×in): a "TN" GEMM
//   Yᵀ = W·Xᵀ (out×batch, ld = out)            -> D, which read back row-major is exactly Y[batch][out]
// m = out, n = batch, k = in, and the bias (length out) runs down D's rows as cuBLASLt's BIAS epilogue expects.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/config.hpp>

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

// The precision weights, activations and outputs are stored in on the GPU. Accumulation is always fp32: fp16
// accumulation loses too much over a long dot product. fp16 and bf16 run on tensor cores; fp32 does when
// allow_tf32 (TF32 keeps 10 mantissa bits of each input).
enum class precision { fp32, fp16, bf16 };

constexpr std::string_view to_string(precision p) noexcept {
  switch (p) {
    case precision::fp32: return "fp32";
    case precision::fp16: return "fp16";
    case precision::bf16: return "bf16";
  }
  return "unknown precision";
}

constexpr std::size_t element_bytes(precision p) noexcept { return p == precision::fp32 ? 4 : 2; }

// The cudaDataType of A, B, C, D and the bias (cuBLASLt wants the bias in D's type).
constexpr cudaDataType_t data_type(precision p) noexcept {
  switch (p) {
    case precision::fp32: return CUDA_R_32F;
    case precision::fp16: return CUDA_R_16F;
    case precision::bf16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

constexpr cublasComputeType_t compute_type(precision p, bool allow_tf32) noexcept {
  return p == precision::fp32 && allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// alpha and beta are fp32 for every precision above (the scale type of CUBLAS_COMPUTE_32F*).
constexpr cudaDataType_t scale_type = CUDA_R_32F;

// The epilogue that applies a layer's bias and activation inside the GEMM, or why there is none.
struct epilogue_choice {
  bool supported = false;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
  std::string_view why_not;  // set when !supported
};

// none -> BIAS, relu -> RELU_BIAS, gelu -> GELU_BIAS. cuBLASLt's GELU is the tanh approximation
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), not compute::activation's exact erf form: the two forms differ by
// at most 4.7e-4. sigmoid and tanh have no cuBLASLt epilogue and are refused (a model using them is rejected when
// it is built rather than run with a separate kernel: no .cu file is needed, by design).
constexpr epilogue_choice epilogue_for(compute::activation a) noexcept {
  switch (a) {
    case compute::activation::none: return {true, CUBLASLT_EPILOGUE_BIAS, {}};
    case compute::activation::relu: return {true, CUBLASLT_EPILOGUE_RELU_BIAS, {}};
    case compute::activation::gelu: return {true, CUBLASLT_EPILOGUE_GELU_BIAS, {}};
    case compute::activation::sigmoid:
    case compute::activation::tanh:
      return {false, CUBLASLT_EPILOGUE_BIAS, "cuBLASLt has no epilogue for it (supported: none, relu, gelu)"};
  }
  return {false, CUBLASLT_EPILOGUE_BIAS, "unknown activation"};
}

// One column-major cuBLASLt matrix: rows x cols with leading dimension ld (elements).
struct matrix_shape {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::int64_t ld = 0;
  friend constexpr bool operator==(const matrix_shape&, const matrix_shape&) = default;
};

// D = op(A)·op(B) (+ bias): the cuBLASLt description of one dense layer over a batch.
struct gemm_shape {
  std::uint64_t m = 0, n = 0, k = 0;
  cublasOperation_t transa = CUBLAS_OP_N;
  cublasOperation_t transb = CUBLAS_OP_N;
  matrix_shape a, b, d;  // C has D's shape (beta = 0, C aliases D)
};

// The dense layer Y[batch][out] = X[batch][in]·W[out][in]ᵀ + b over row-major buffers (see the top of this file).
constexpr gemm_shape dense_layer_gemm(std::size_t batch, std::size_t inputs, std::size_t outputs) noexcept {
  gemm_shape g;
  g.m = outputs;
  g.n = batch;
  g.k = inputs;
  g.transa = CUBLAS_OP_T;
  g.transb = CUBLAS_OP_N;
  g.a = {inputs, outputs, static_cast<std::int64_t>(inputs)};
  g.b = {inputs, batch, static_cast<std::int64_t>(inputs)};
  g.d = {outputs, batch, static_cast<std::int64_t>(outputs)};
  return g;
}

}  // namespace cuda
POWERBATCH_END_NAMESPACE
