// cuda::error — CUDA runtime and cuBLAS status codes as std::error_codes, and the exception that carries them.
//
// cudaError_t and cublasStatus_t each get an std::error_category whose message() is the library's own text
// ("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"). The categories map
// the codes a caller can act on to portable conditions, so `ec == std::errc::no_such_device` asks "is there no usable
// GPU?" whatever the exact CUDA reason (no device, no or too old a driver, the stub libcuda).
//
// Failed calls throw cuda::error, an std::system_error whose what() names the call and its file and line:
//   POWERBATCH_CUDA_CHECK(cudaMalloc(&p, bytes));   // throws cuda::error on failure
//   POWERBATCH_CUDA_CHECK(cublasLtCreate(&h));      // cuBLAS statuses too: overloads pick the category
// The batcher turns a throwing backend into errc::backend_failed and keeps what() as the request's detail.
//
// Needs the CUDA toolkit's headers (cuda_runtime_api.h, cublasLt.h); link libcudart and libcublasLt.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/error.hpp>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <string>
#include <system_error>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

class runtime_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cuda"; }
  std::string message(int value) const override {
    const auto status = static_cast<cudaError_t>(value);
    return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<cudaError_t>(value)) {
      case cudaErrorMemoryAllocation: return std::errc::not_enough_memory;
      case cudaErrorInvalidValue: return std::errc::invalid_argument;
      case cudaErrorNotReady: return std::errc::resource_unavailable_try_again;
      case cudaErrorDevicesUnavailable: return std::errc::device_or_resource_busy;
      // Every way of "this process cannot use a GPU": none present, no driver or one older than the runtime, the
      // toolkit's stub libcuda found instead of the driver's, a driver that does not match its kernel module.
      case cudaErrorNoDevice:
      case cudaErrorInvalidDevice:
      case cudaErrorInsufficientDriver:
      case cudaErrorStubLibrary:
      case cudaErrorSystemDriverMismatch:
      case cudaErrorCompatNotSupportedOnDevice: return std::errc::no_such_device;
      default: return {value, *this};
    }
  }
};

class cublas_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "cublas"; }
  std::string message(int value) const override {
    const auto status = static_cast<cublasStatus_t>(value);
    return std::string(cublasLtGetStatusName(status)) + ": " + cublasLtGetStatusString(status);
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<cublasStatus_t>(value)) {
      case CUBLAS_STATUS_ALLOC_FAILED: return std::errc::not_enough_memory;
      case CUBLAS_STATUS_INVALID_VALUE: return std::errc::invalid_argument;
      case CUBLAS_STATUS_NOT_SUPPORTED:
      case CUBLAS_STATUS_ARCH_MISMATCH: return std::errc::not_supported;
      default: return {value, *this};
    }
  }
};

inline const std::error_category& runtime_category() noexcept {
  static const runtime_category_impl instance;
  return instance;
}

inline const std::error_category& cublas_category() noexcept {
  static const cublas_category_impl instance;
  return instance;
}

// Both enums live in CUDA's global namespace, where argument-dependent lookup cannot find these; call them
// qualified. (std::is_error_code_enum is not specialised for them: a second library doing the same would clash.)
inline std::error_code make_error_code(cudaError_t status) noexcept {
  return {static_cast<int>(status), runtime_category()};
}
inline std::error_code make_error_code(cublasStatus_t status) noexcept {
  return {static_cast<int>(status), cublas_category()};
}

// A failed CUDA or cuBLAS call. code() is the mapped status; what() reads
// "<call> failed at <file>:<line>: <library's name for the status>: <library's message>".
class error : public std::system_error {
 public:
  error(std::error_code code, const std::string& context) : std::system_error(code, context) {}
};

namespace detail {
[[noreturn]] inline void throw_failed_call(std::error_code code, const char* call, const char* file, int line) {
  throw error(code, std::string(call) + " failed at " + file + ":" + std::to_string(line));
}
}  // namespace detail

// The runtime remembers the last failed call until cudaGetLastError() reads it; clear it here so a later,
// unrelated cudaGetLastError() (cuBLAS checks its kernel launches that way) does not report this failure again.
inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) [[unlikely]] {
    (void)cudaGetLastError();
    detail::throw_failed_call(make_error_code(status), call, file, line);
  }
}

inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]]
    detail::throw_failed_call(make_error_code(status), call, file, line);
}

// How many GPUs this process can use. With none (or no usable driver) `error` is set, compares equal to
// std::errc::no_such_device, and `detail` is CUDA's message; never throws a CUDA error.
inline outcome<int> device_count() {
  outcome<int> result;
  const cudaError_t status = cudaGetDeviceCount(&result.value);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    result.value = 0;
    result.error = make_error_code(status);
    result.detail = result.error.message();
  } else if (result.value == 0) {
    result.error = make_error_code(cudaErrorNoDevice);
    result.detail = result.error.message();
  }
  return result;
}

}  // namespace cuda
POWERBATCH_END_NAMESPACE

// Checks a CUDA runtime or cuBLAS(Lt) call and throws powerbatch::cuda::error naming the call, file and line.
#define POWERBATCH_CUDA_CHECK(call) ::powerbatch::cuda::check((call), #call, __FILE__, __LINE__)
