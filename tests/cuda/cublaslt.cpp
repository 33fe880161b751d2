// cuda/unique_handle.hpp, cuda/gemm_plan.hpp and the host-side parts of cuda/cublaslt.hpp: handle ownership,
// the row-major -> column-major GEMM description (checked numerically on the host), epilogue and type choices,
// and real cuBLASLt descriptors and layouts, which cuBLASLt creates without a GPU.
#include <powerbatch/cuda/cublaslt.hpp>
#include <powerbatch/cuda/gemm_plan.hpp>
#include <powerbatch/cuda/unique_handle.hpp>

#include "gpu.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace cuda = powerbatch::cuda;
namespace compute = powerbatch::compute;

namespace {

struct counting_traits {
  using handle_type = int*;
  static inline std::vector<int> destroyed;
  static void destroy(int* h) noexcept { destroyed.push_back(*h); }
};
using counted = cuda::unique_handle<counting_traits>;

// op(A)·op(B) over column-major buffers exactly as cuBLASLt reads them from a gemm_shape, plus a per-row bias.
std::vector<float> column_major_gemm(const cuda::gemm_shape& g, const std::vector<float>& a,
                                     const std::vector<float>& b, const std::vector<float>& bias) {
  auto at = [&](std::uint64_t row, std::uint64_t col) {  // op(A)(row, col), op(A) is m x k
    return g.transa == CUBLAS_OP_N ? a[col * g.a.ld + row] : a[row * g.a.ld + col];
  };
  auto bt = [&](std::uint64_t row, std::uint64_t col) {  // op(B)(row, col), op(B) is k x n
    return g.transb == CUBLAS_OP_N ? b[col * g.b.ld + row] : b[row * g.b.ld + col];
  };
  std::vector<float> d(g.d.ld * g.n);
  for (std::uint64_t i = 0; i < g.m; ++i)
    for (std::uint64_t j = 0; j < g.n; ++j) {
      float sum = bias[i];
      for (std::uint64_t p = 0; p < g.k; ++p) sum += at(i, p) * bt(p, j);
      d[j * g.d.ld + i] = sum;
    }
  return d;
}

}  // namespace

TEST_CASE("unique_handle owns exactly one handle and moves it", "[cuda][raii]") {
  counting_traits::destroyed.clear();
  int one = 1, two = 2, three = 3;
  {
    counted empty;
    CHECK_FALSE(empty);
    CHECK(empty.get() == nullptr);

    counted a(&one);
    CHECK(a);
    counted b(std::move(a));
    CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    CHECK(b.get() == &one);

    counted c(&two);
    c = std::move(b);  // destroys two, takes one
    CHECK(counting_traits::destroyed == std::vector<int>{2});
    CHECK(c.get() == &one);
    CHECK_FALSE(b);  // NOLINT(bugprone-use-after-move)

    auto& alias = c;
    c = std::move(alias);  // self-move keeps the handle
    CHECK(c.get() == &one);
    CHECK(counting_traits::destroyed == std::vector<int>{2});

    int* released = c.release();
    CHECK(released == &one);
    CHECK_FALSE(c);
    c.reset(&three);
    c.reset();
    CHECK(counting_traits::destroyed == std::vector<int>{2, 3});
  }
  CHECK(counting_traits::destroyed == std::vector<int>{2, 3});  // one was released, empty handles destroy nothing
  static_assert(!std::is_copy_constructible_v<counted> && !std::is_copy_assignable_v<counted>);
  static_assert(std::is_nothrow_move_constructible_v<counted> && std::is_nothrow_move_assignable_v<counted>);
}

TEST_CASE("dense_layer_gemm describes Y = X·Wᵀ + b as a TN column-major GEMM", "[cuda][gemm]") {
  const std::size_t batch = 5, inputs = 3, outputs = 4;
  const cuda::gemm_shape g = cuda::dense_layer_gemm(batch, inputs, outputs);
  CHECK(g.m == outputs);
  CHECK(g.n == batch);
  CHECK(g.k == inputs);
  CHECK(g.transa == CUBLAS_OP_T);
  CHECK(g.transb == CUBLAS_OP_N);
  CHECK(g.a == cuda::matrix_shape{inputs, outputs, static_cast<std::int64_t>(inputs)});
  CHECK(g.b == cuda::matrix_shape{inputs, batch, static_cast<std::int64_t>(inputs)});
  CHECK(g.d == cuda::matrix_shape{outputs, batch, static_cast<std::int64_t>(outputs)});

  // The row-major buffers, read by the column-major GEMM the shape describes, give row-major Y.
  std::vector<float> w(outputs * inputs), x(batch * inputs), bias(outputs);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) - 3.0f;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 5) * 0.5f - 1.0f;
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i) * 10.0f;
  const std::vector<float> d = column_major_gemm(g, w, x, bias);
  for (std::size_t r = 0; r < batch; ++r)
    for (std::size_t o = 0; o < outputs; ++o) {
      float expected = bias[o];
      for (std::size_t i = 0; i < inputs; ++i) expected += x[r * inputs + i] * w[o * inputs + i];
      INFO("row " << r << ", output " << o);
      CHECK(d[r * outputs + o] == expected);
    }
}

TEST_CASE("epilogue_for maps activations to cuBLASLt epilogues and refuses the rest", "[cuda][gemm]") {
  CHECK(cuda::epilogue_for(compute::activation::none).epilogue == CUBLASLT_EPILOGUE_BIAS);
  CHECK(cuda::epilogue_for(compute::activation::relu).epilogue == CUBLASLT_EPILOGUE_RELU_BIAS);
  CHECK(cuda::epilogue_for(compute::activation::gelu).epilogue == CUBLASLT_EPILOGUE_GELU_BIAS);
  for (auto a : {compute::activation::none, compute::activation::relu, compute::activation::gelu})
    CHECK(cuda::epilogue_for(a).supported);
  for (auto a : {compute::activation::sigmoid, compute::activation::tanh}) {
    CHECK_FALSE(cuda::epilogue_for(a).supported);
    CHECK_THAT(std::string(cuda::epilogue_for(a).why_not), Catch::Contains("no epilogue"));
  }
}

TEST_CASE("precisions choose their cuBLASLt types", "[cuda][gemm]") {
  CHECK(cuda::data_type(cuda::precision::fp32) == CUDA_R_32F);
  CHECK(cuda::data_type(cuda::precision::fp16) == CUDA_R_16F);
  CHECK(cuda::data_type(cuda::precision::bf16) == CUDA_R_16BF);
  CHECK(cuda::element_bytes(cuda::precision::fp32) == 4);
  CHECK(cuda::element_bytes(cuda::precision::fp16) == 2);
  CHECK(cuda::element_bytes(cuda::precision::bf16) == 2);
  CHECK(cuda::compute_type(cuda::precision::fp32, false) == CUBLAS_COMPUTE_32F);
  CHECK(cuda::compute_type(cuda::precision::fp32, true) == CUBLAS_COMPUTE_32F_FAST_TF32);
  CHECK(cuda::compute_type(cuda::precision::fp16, false) == CUBLAS_COMPUTE_32F);  // fp32 accumulation
  CHECK(cuda::compute_type(cuda::precision::bf16, false) == CUBLAS_COMPUTE_32F);
  CHECK(cuda::to_string(cuda::precision::bf16) == "bf16");
}

TEST_CASE("matmul_desc keeps its attributes and moves", "[cuda][raii]") {
  cuda::matmul_desc desc(CUBLAS_COMPUTE_32F_FAST_TF32, CUDA_R_32F);
  REQUIRE(desc);
  CHECK(desc.attribute<std::int32_t>(CUBLASLT_MATMUL_DESC_COMPUTE_TYPE) == CUBLAS_COMPUTE_32F_FAST_TF32);
  CHECK(desc.attribute<std::int32_t>(CUBLASLT_MATMUL_DESC_SCALE_TYPE) == CUDA_R_32F);
  desc.set_attribute(CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(CUBLASLT_EPILOGUE_RELU_BIAS));
  CHECK(desc.attribute<std::uint32_t>(CUBLASLT_MATMUL_DESC_EPILOGUE) == CUBLASLT_EPILOGUE_RELU_BIAS);

  const cublasLtMatmulDesc_t raw = desc.get();
  cuda::matmul_desc moved(std::move(desc));
  CHECK(moved.get() == raw);
  CHECK_FALSE(desc);  // NOLINT(bugprone-use-after-move)
  CHECK(moved.attribute<std::uint32_t>(CUBLASLT_MATMUL_DESC_EPILOGUE) == CUBLASLT_EPILOGUE_RELU_BIAS);

  // cuBLASLt itself refuses a wrong attribute size, and the error says so in cuBLAS's words.
  try {
    std::int8_t too_small = 0;
    moved.set_attribute(CUBLASLT_MATMUL_DESC_EPILOGUE, too_small);
    FAIL("no exception");
  } catch (const cuda::error& e) {
    CHECK(e.code() == cuda::make_error_code(CUBLAS_STATUS_INVALID_VALUE));
    CHECK_THAT(std::string(e.what()), Catch::Contains("cublasLtMatmulDescSetAttribute"));
  }
}

TEST_CASE("matrix_layout and matmul_preference keep what they were given", "[cuda][raii]") {
  const cuda::gemm_shape g = cuda::dense_layer_gemm(7, 784, 128);
  cuda::matrix_layout b(CUDA_R_16F, g.b);
  CHECK(b.attribute<std::uint32_t>(CUBLASLT_MATRIX_LAYOUT_TYPE) == CUDA_R_16F);
  CHECK(b.attribute<std::uint64_t>(CUBLASLT_MATRIX_LAYOUT_ROWS) == 784);
  CHECK(b.attribute<std::uint64_t>(CUBLASLT_MATRIX_LAYOUT_COLS) == 7);
  CHECK(b.attribute<std::int64_t>(CUBLASLT_MATRIX_LAYOUT_LD) == 784);
  cuda::matrix_layout moved = std::move(b);
  CHECK(moved);
  CHECK_FALSE(b);  // NOLINT(bugprone-use-after-move)

  cuda::matmul_preference preference(std::size_t{8} << 20);
  CHECK(preference.max_workspace_bytes() == (std::uint64_t{8} << 20));
}

TEST_CASE("cublaslt_handle needs a GPU and says so in cuBLAS's words when there is none", "[cuda][raii]") {
  if (powerbatch_cuda_tests::gpu_visible()) {
    cuda::cublaslt_handle handle;
    CHECK(handle);
    return;
  }
  WARN("no GPU visible: checking that cublasLtCreate fails with a cuBLAS error");
  try {
    cuda::cublaslt_handle handle;
    FAIL("cublasLtCreate succeeded without a GPU");
  } catch (const cuda::error& e) {
    CHECK(&e.code().category() == &cuda::cublas_category());
    CHECK_THAT(std::string(e.what()), Catch::Contains("cublasLtCreate"));
    const auto status = static_cast<cublasStatus_t>(e.code().value());
    CHECK_THAT(std::string(e.what()), Catch::Contains(cublasLtGetStatusString(status)));
  }
}
