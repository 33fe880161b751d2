// compute::aligned_allocator — SIMD-aligned host memory, and the `buffer_allocator` concept Pool<Alloc> plugs into.
//
// A buffer allocator hands out raw bytes for batch buffers. Requirements (A is the allocator, a an A):
//   1. A::alignment, a static constexpr std::size_t power of two: every block is aligned to at least this.
//   2. a.allocate(std::size_t bytes) -> void*: a block of `bytes` bytes, or throws (std::bad_alloc or similar).
//   3. a.deallocate(void* block, std::size_t bytes) noexcept-callable: gives back a block allocate() returned.
//   4. A is copy-constructible; copies free each other's blocks (the pool keeps one copy).
// aligned_allocator is the host one; the CUDA backend's pinned host allocator (include/powerbatch/cuda/) is another.
#pragma once

#include <powerbatch/config.hpp>

#include <concepts>
#include <cstddef>
#include <new>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

template <class A>
concept buffer_allocator =
    std::copy_constructible<A> && requires { A::alignment; } && (A::alignment > 0) &&
    ((A::alignment & (A::alignment - 1)) == 0) && requires(A& a, void* block, std::size_t bytes) {
      { a.allocate(bytes) } -> std::same_as<void*>;
      a.deallocate(block, bytes);
    };

// 64 bytes: one cache line, and the width of an AVX-512 register, so any kernel may use aligned loads.
inline constexpr std::size_t simd_alignment = 64;

template <std::size_t Alignment = simd_alignment>
struct basic_aligned_allocator {
  static_assert(Alignment > 0 && (Alignment & (Alignment - 1)) == 0, "alignment must be a power of two");
  static constexpr std::size_t alignment = Alignment;

  void* allocate(std::size_t bytes) { return ::operator new(bytes == 0 ? 1 : bytes, std::align_val_t{Alignment}); }
  void deallocate(void* block, std::size_t /*bytes*/) noexcept { ::operator delete(block, std::align_val_t{Alignment}); }

  friend bool operator==(const basic_aligned_allocator&, const basic_aligned_allocator&) noexcept { return true; }
};

using aligned_allocator = basic_aligned_allocator<>;

static_assert(buffer_allocator<aligned_allocator>);

}  // namespace compute
POWERBATCH_END_NAMESPACE
