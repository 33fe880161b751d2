// cuda::stream, cuda::event, cuda::device_buffer, cuda::device_guard — RAII over the CUDA runtime.
//
// Each constructor creates its object and throws cuda::error (with CUDA's message) when it cannot; the destructor
// releases it. All are move-only (cuda::unique_handle); a moved-from object is empty and safe to destroy.
// Destructors ignore CUDA's status: they cannot report it, and at process exit the runtime may already be
// unloading (cudaErrorCudartUnloading), which must not turn into an abort.
#pragma once

#include <powerbatch/cuda/error.hpp>
#include <powerbatch/cuda/unique_handle.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

namespace detail {
struct stream_traits {
  using handle_type = cudaStream_t;
  static void destroy(handle_type s) noexcept { (void)cudaStreamDestroy(s); }
};
struct event_traits {
  using handle_type = cudaEvent_t;
  static void destroy(handle_type e) noexcept { (void)cudaEventDestroy(e); }
};
struct device_memory_traits {
  using handle_type = void*;
  static void destroy(handle_type p) noexcept { (void)cudaFree(p); }
};
}  // namespace detail

// Makes `device` current on this thread for the guard's lifetime and then restores the previous one: the current
// device is per host thread, and a backend's run() may be called from any thread of an executor.
class device_guard {
 public:
  explicit device_guard(int device) : device_(device) {
    POWERBATCH_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device_) POWERBATCH_CUDA_CHECK(cudaSetDevice(device_));
  }
  device_guard(const device_guard&) = delete;
  device_guard& operator=(const device_guard&) = delete;
  ~device_guard() {
    if (previous_ != device_) (void)cudaSetDevice(previous_);
  }

 private:
  int device_;
  int previous_ = 0;
};

// A CUDA stream. Non-blocking by default: work on it never waits for the legacy default stream, so one in-flight
// batch does not serialise behind unrelated work another library puts there.
class stream {
 public:
  stream() : stream(cudaStreamNonBlocking) {}
  explicit stream(unsigned int flags) {
    cudaStream_t created = nullptr;
    POWERBATCH_CUDA_CHECK(cudaStreamCreateWithFlags(&created, flags));
    handle_.reset(created);
  }

  cudaStream_t get() const noexcept { return handle_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }
  void synchronize() const { POWERBATCH_CUDA_CHECK(cudaStreamSynchronize(get())); }

 private:
  unique_handle<detail::stream_traits> handle_;
};

// A CUDA event. The default flags suit "tell me when this batch is done": no timing (cheaper to record) and
// blocking synchronisation, so a waiting host thread sleeps instead of spinning a core at 100 % — this is a
// power-aware library. Pass cudaEventDefault to time work with elapsed_ms().
class event {
 public:
  static constexpr unsigned int completion_flags = cudaEventDisableTiming | cudaEventBlockingSync;

  event() : event(completion_flags) {}
  explicit event(unsigned int flags) {
    cudaEvent_t created = nullptr;
    POWERBATCH_CUDA_CHECK(cudaEventCreateWithFlags(&created, flags));
    handle_.reset(created);
  }

  cudaEvent_t get() const noexcept { return handle_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  void record(const stream& on) { POWERBATCH_CUDA_CHECK(cudaEventRecord(get(), on.get())); }
  void synchronize() const { POWERBATCH_CUDA_CHECK(cudaEventSynchronize(get())); }
  // True once all work captured by the last record() has finished; never blocks.
  bool ready() const {
    const cudaError_t status = cudaEventQuery(get());
    if (status == cudaErrorNotReady) {
      (void)cudaGetLastError();
      return false;
    }
    POWERBATCH_CUDA_CHECK(status);
    return true;
  }
  // Milliseconds between two recorded events; both need timing enabled (flags without cudaEventDisableTiming).
  static float elapsed_ms(const event& start, const event& end) {
    float ms = 0;
    POWERBATCH_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), end.get()));
    return ms;
  }

 private:
  unique_handle<detail::event_traits> handle_;
};

// Device memory from cudaMalloc (aligned to at least 256 bytes), not initialised.
class device_buffer {
 public:
  device_buffer() noexcept = default;
  explicit device_buffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    void* allocated = nullptr;
    POWERBATCH_CUDA_CHECK(cudaMalloc(&allocated, bytes));
    memory_.reset(allocated);
  }
  device_buffer(device_buffer&& other) noexcept
      : memory_(std::move(other.memory_)), bytes_(std::exchange(other.bytes_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      memory_ = std::move(other.memory_);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }

  void* data() const noexcept { return memory_.get(); }
  template <class T>
  T* data_as() const noexcept {
    return static_cast<T*>(memory_.get());
  }
  std::size_t bytes() const noexcept { return bytes_; }

  // Synchronous upload of `bytes` from host memory (used once, for weights).
  void upload(const void* host, std::size_t bytes) {
    POWERBATCH_ASSERT(bytes <= bytes_, "device_buffer::upload: more bytes than the buffer holds");
    POWERBATCH_CUDA_CHECK(cudaMemcpy(data(), host, bytes, cudaMemcpyHostToDevice));
  }

 private:
  unique_handle<detail::device_memory_traits> memory_;
  std::size_t bytes_ = 0;
};

}  // namespace cuda
POWERBATCH_END_NAMESPACE
