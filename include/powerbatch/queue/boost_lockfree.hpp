// queue::boost_lockfree — Boost.Lockfree's multi-producer queue.
//
// boost::lockfree::queue holds only trivially copyable values, and requests own handlers, so requests live in a
// slot array and the lock-free structures carry slot indices: a lockfree::stack of free slots and a
// lockfree::queue of filled ones, both preallocated (bounded_push never allocates).
//
// Models: QueuePolicy (multi-producer, single consumer). Complexity: O(1), two lock-free operations per push and
// per pop. Thread safety: try_push from any thread; try_pop from the dispatcher.
#pragma once

#include <powerbatch/config.hpp>

#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/stack.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace queue {

struct boost_lockfree {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity)
        : slots_(capacity == 0 ? 1 : capacity), free_(slots_.size()), filled_(slots_.size()) {
      for (std::size_t i = slots_.size(); i-- > 0;) free_.bounded_push(static_cast<std::uint32_t>(i));
    }

    bool try_push(T&& element) {
      std::uint32_t slot;
      if (!free_.pop(slot)) return false;
      slots_[slot] = std::move(element);
      // Cannot fail: there are as many nodes as slots and this slot came from the free stack.
      filled_.bounded_push(slot);
      return true;
    }

    bool try_pop(T& out) {
      std::uint32_t slot;
      if (!filled_.pop(slot)) return false;
      out = std::move(slots_[slot]);
      free_.bounded_push(slot);
      return true;
    }

   private:
    std::vector<T> slots_;
    boost::lockfree::stack<std::uint32_t> free_;
    boost::lockfree::queue<std::uint32_t> filled_;
  };
};

}  // namespace queue
POWERBATCH_END_NAMESPACE
