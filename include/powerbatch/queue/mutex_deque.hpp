// queue::mutex_deque — one mutex around a bounded double-ended ring.
//
// Models: QueuePolicy (multi-producer, single consumer). Defaults: none.
// Complexity: O(1) push and pop; try_pop_bulk takes many under one lock.
// Thread safety: try_push from any thread; try_pop / try_pop_bulk from the dispatcher.
// Memory: the ring is allocated once at construction (unlike std::deque, which allocates as it moves), so the
// steady state allocates nothing.
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace queue {

struct mutex_deque {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {}

    bool try_push(T&& element) {
      std::lock_guard lock(mutex_);
      if (size_ == slots_.size()) return false;
      slots_[(head_ + size_) % slots_.size()] = std::move(element);
      ++size_;
      return true;
    }

    bool try_pop(T& out) { return try_pop_bulk(&out, 1) == 1; }

    template <class OutputIt>
    std::size_t try_pop_bulk(OutputIt out, std::size_t max) {
      std::lock_guard lock(mutex_);
      const std::size_t count = size_ < max ? size_ : max;
      for (std::size_t i = 0; i < count; ++i) {
        *out++ = std::move(slots_[head_]);
        head_ = head_ + 1 == slots_.size() ? 0 : head_ + 1;
      }
      size_ -= count;
      return count;
    }

   private:
    std::mutex mutex_;
    std::vector<T> slots_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
  };
};

}  // namespace queue
POWERBATCH_END_NAMESPACE
