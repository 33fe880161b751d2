// cuda::pinned_allocator — page-locked ("pinned") host memory for staging batches, a compute::buffer_allocator.
//
// Copies between the GPU and pinned memory run by DMA at full bus speed and can be asynchronous on a stream;
// from ordinary pageable memory the driver first copies through a pinned bounce buffer of its own. Pinned memory
// is a scarce system resource (it cannot be swapped), which is why it goes through a bounded compute::Pool:
//   compute::Pool<cuda::pinned_allocator> staging({.max_bytes = 64 << 20});
// allocate() throws cuda::error with CUDA's message when the memory cannot be pinned (including when no GPU or
// driver is usable: pinning needs the driver). Blocks are aligned to `alignment` (256 bytes, what CUDA promises
// for its allocations; checked at run time).
#pragma once

#include <powerbatch/compute/aligned_allocator.hpp>
#include <powerbatch/cuda/error.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

class pinned_allocator {
 public:
  static constexpr std::size_t alignment = 256;

  // flags go to cudaHostAlloc: cudaHostAllocDefault, or e.g. cudaHostAllocWriteCombined for buffers the host only
  // writes (faster to upload, very slow for the host to read back).
  explicit pinned_allocator(unsigned int flags = cudaHostAllocDefault) noexcept : flags_(flags) {}

  void* allocate(std::size_t bytes) {
    void* block = nullptr;
    POWERBATCH_CUDA_CHECK(cudaHostAlloc(&block, bytes == 0 ? 1 : bytes, flags_));
    if (reinterpret_cast<std::uintptr_t>(block) % alignment != 0) {
      (void)cudaFreeHost(block);
      throw error(make_error_code(cudaErrorInvalidValue),
                  "cudaHostAlloc returned a block not aligned to " + std::to_string(alignment) + " bytes");
    }
    return block;
  }

  // The status is ignored: a destructor path cannot report it (see runtime.hpp).
  void deallocate(void* block, std::size_t /*bytes*/) noexcept { (void)cudaFreeHost(block); }

  unsigned int flags() const noexcept { return flags_; }
  friend bool operator==(const pinned_allocator&, const pinned_allocator&) noexcept = default;

 private:
  unsigned int flags_ = cudaHostAllocDefault;
};

static_assert(compute::buffer_allocator<pinned_allocator>);

}  // namespace cuda
POWERBATCH_END_NAMESPACE
