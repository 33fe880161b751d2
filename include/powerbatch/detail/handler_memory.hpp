// Recycled memory for the batcher's own internal handlers (wake-ups, timer waits, batch runs), so that posting
// them allocates nothing in steady state (the idea of Asio's "custom allocation" example). Each block serves one
// handler at a time; a second concurrent user falls back to operator new.
#pragma once

#include <powerbatch/config.hpp>

#include <atomic>
#include <cstddef>
#include <new>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

struct handler_memory {
  static constexpr std::size_t size = 256;
  alignas(std::max_align_t) unsigned char bytes[size];
  std::atomic<bool> in_use{false};
};

template <class T>
struct handler_allocator {
  using value_type = T;

  explicit handler_allocator(handler_memory* m) noexcept : memory(m) {}
  template <class U>
  handler_allocator(const handler_allocator<U>& other) noexcept : memory(other.memory) {}

  T* allocate(std::size_t n) {
    if (n * sizeof(T) <= handler_memory::size && alignof(T) <= alignof(std::max_align_t) &&
        !memory->in_use.exchange(true, std::memory_order_acquire))
      return reinterpret_cast<T*>(memory->bytes);
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    if (reinterpret_cast<unsigned char*>(p) == memory->bytes)
      memory->in_use.store(false, std::memory_order_release);
    else
      ::operator delete(p);
  }

  template <class U>
  bool operator==(const handler_allocator<U>& other) const noexcept {
    return memory == other.memory;
  }

  handler_memory* memory;
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
