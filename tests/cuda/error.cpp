// cuda/error.hpp: the CUDA and cuBLAS categories, their messages (the libraries' own), their portable conditions,
// the check macro's exception, and device_count()'s "no GPU" path. None of this needs a GPU.
#include <powerbatch/cuda/error.hpp>

#include "gpu.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <system_error>

namespace cuda = powerbatch::cuda;

namespace {
std::string cuda_text(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }
std::string cublas_text(cublasStatus_t s) {
  return std::string(cublasLtGetStatusName(s)) + ": " + cublasLtGetStatusString(s);
}
cudaError_t returns(cudaError_t e) { return e; }
cublasStatus_t returns(cublasStatus_t s) { return s; }
}  // namespace

TEST_CASE("CUDA runtime codes carry CUDA's name and message", "[cuda][error]") {
  const std::error_code ec = cuda::make_error_code(cudaErrorMemoryAllocation);
  CHECK(ec.value() == static_cast<int>(cudaErrorMemoryAllocation));
  CHECK(&ec.category() == &cuda::runtime_category());
  CHECK(std::string(ec.category().name()) == "cuda");
  CHECK(ec.message() == cuda_text(cudaErrorMemoryAllocation));
  CHECK(ec.message().rfind("cudaErrorMemoryAllocation: ", 0) == 0);
  CHECK(ec.message().size() > std::string("cudaErrorMemoryAllocation: ").size());
  CHECK(cuda::make_error_code(cudaErrorInsufficientDriver).message() == cuda_text(cudaErrorInsufficientDriver));
  CHECK_FALSE(cuda::make_error_code(cudaSuccess));
}

TEST_CASE("CUDA runtime codes map to portable conditions", "[cuda][error]") {
  for (cudaError_t no_gpu : {cudaErrorNoDevice, cudaErrorInvalidDevice, cudaErrorInsufficientDriver,
                             cudaErrorStubLibrary, cudaErrorSystemDriverMismatch,
                             cudaErrorCompatNotSupportedOnDevice}) {
    INFO(cudaGetErrorName(no_gpu));
    CHECK(cuda::make_error_code(no_gpu) == std::errc::no_such_device);
  }
  CHECK(cuda::make_error_code(cudaErrorMemoryAllocation) == std::errc::not_enough_memory);
  CHECK(cuda::make_error_code(cudaErrorInvalidValue) == std::errc::invalid_argument);
  CHECK(cuda::make_error_code(cudaErrorNotReady) == std::errc::resource_unavailable_try_again);
  CHECK(cuda::make_error_code(cudaErrorDevicesUnavailable) == std::errc::device_or_resource_busy);
  // Others stay in CUDA's own category, equal only to themselves.
  const std::error_code launch = cuda::make_error_code(cudaErrorLaunchFailure);
  CHECK(launch != std::errc::no_such_device);
  CHECK(launch != std::errc::invalid_argument);
  CHECK(launch.default_error_condition().category() == cuda::runtime_category());
  CHECK(launch == cuda::make_error_code(cudaErrorLaunchFailure));
}

TEST_CASE("cuBLAS statuses carry cuBLAS's name and message and map to portable conditions", "[cuda][error]") {
  const std::error_code ec = cuda::make_error_code(CUBLAS_STATUS_NOT_SUPPORTED);
  CHECK(&ec.category() == &cuda::cublas_category());
  CHECK(std::string(ec.category().name()) == "cublas");
  CHECK(ec.message() == cublas_text(CUBLAS_STATUS_NOT_SUPPORTED));
  CHECK(ec.message().rfind("CUBLAS_STATUS_NOT_SUPPORTED: ", 0) == 0);
  CHECK(ec == std::errc::not_supported);
  CHECK(cuda::make_error_code(CUBLAS_STATUS_ARCH_MISMATCH) == std::errc::not_supported);
  CHECK(cuda::make_error_code(CUBLAS_STATUS_ALLOC_FAILED) == std::errc::not_enough_memory);
  CHECK(cuda::make_error_code(CUBLAS_STATUS_INVALID_VALUE) == std::errc::invalid_argument);
  CHECK(cuda::make_error_code(CUBLAS_STATUS_EXECUTION_FAILED) != std::errc::not_supported);
  CHECK_FALSE(cuda::make_error_code(CUBLAS_STATUS_SUCCESS));
  // The same number in the two categories is two different errors.
  CHECK(cuda::make_error_code(static_cast<cudaError_t>(7)) != cuda::make_error_code(static_cast<cublasStatus_t>(7)));
}

TEST_CASE("POWERBATCH_CUDA_CHECK throws cuda::error naming the call, file and line", "[cuda][error]") {
  CHECK_NOTHROW(POWERBATCH_CUDA_CHECK(returns(cudaSuccess)));
  CHECK_NOTHROW(POWERBATCH_CUDA_CHECK(returns(CUBLAS_STATUS_SUCCESS)));

  const int line = __LINE__ + 2;
  try {
    POWERBATCH_CUDA_CHECK(returns(cudaErrorInvalidValue));
    FAIL("no exception");
  } catch (const cuda::error& e) {
    CHECK(e.code() == cuda::make_error_code(cudaErrorInvalidValue));
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("returns(cudaErrorInvalidValue) failed at "));
    CHECK_THAT(what, Catch::Contains("error.cpp:" + std::to_string(line)));
    CHECK_THAT(what, Catch::Contains(cuda_text(cudaErrorInvalidValue)));
  }

  try {
    POWERBATCH_CUDA_CHECK(returns(CUBLAS_STATUS_INVALID_VALUE));
    FAIL("no exception");
  } catch (const std::system_error& e) {  // cuda::error is an std::system_error
    CHECK(e.code() == cuda::make_error_code(CUBLAS_STATUS_INVALID_VALUE));
    CHECK_THAT(std::string(e.what()), Catch::Contains(cublas_text(CUBLAS_STATUS_INVALID_VALUE)));
  }
}

TEST_CASE("A failed runtime call checked by POWERBATCH_CUDA_CHECK leaves no error behind", "[cuda][error]") {
  // 2^50 bytes fails with or without a GPU. With one it is cudaErrorMemoryAllocation, which the runtime keeps as
  // the last error until read: check() must clear it so that a later cudaGetLastError() does not report it again.
  // Without a usable driver the runtime's initialisation failed, and CUDA reports that from every call, by design.
  void* never = nullptr;
  std::error_code failure;
  try {
    POWERBATCH_CUDA_CHECK(cudaMalloc(&never, std::size_t{1} << 50));
    FAIL("cudaMalloc of 2^50 bytes succeeded");
  } catch (const cuda::error& e) {
    failure = e.code();
  }
  if (powerbatch_cuda_tests::gpu_visible()) {
    CHECK(failure == std::errc::not_enough_memory);
    CHECK(cudaGetLastError() == cudaSuccess);
  } else {
    WARN("no GPU visible: the initialisation failure persists, as CUDA specifies (" << failure.message() << ")");
    CHECK(failure == std::errc::no_such_device);
    CHECK(cuda::make_error_code(cudaGetLastError()) == failure);
  }
}

TEST_CASE("device_count reports either GPUs or CUDA's reason for having none", "[cuda][error]") {
  const auto devices = cuda::device_count();
  if (devices.error) {
    WARN("no GPU visible: checking the no-GPU path (" << devices.detail << ")");
    CHECK(devices.value == 0);
    CHECK(devices.error == std::errc::no_such_device);
    CHECK(&devices.error.category() == &cuda::runtime_category());
    CHECK(devices.detail == devices.error.message());
    CHECK(devices.detail == cuda_text(static_cast<cudaError_t>(devices.error.value())));
    CHECK_FALSE(powerbatch_cuda_tests::gpu_visible());
  } else {
    CHECK(devices.value >= 1);
    CHECK(devices.detail.empty());
    CHECK(powerbatch_cuda_tests::gpu_visible());
  }
}
