// queue::boost_spsc — Boost.Lockfree's single-producer single-consumer ring, for a batcher fed by one thread.
//
// Filled slot indices travel producer -> dispatcher through one spsc_queue and free ones come back through a
// second, so each direction keeps one writer and one reader.
//
// Models: QueuePolicy with single_producer = true: submit from one thread only (the batcher checks this in debug
// builds). Complexity: O(1), wait-free.
#pragma once

#include <powerbatch/config.hpp>

#include <boost/lockfree/spsc_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace queue {

struct boost_spsc {
  static constexpr bool single_producer = true;

  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity)
        : slots_(capacity == 0 ? 1 : capacity), free_(slots_.size()), filled_(slots_.size()) {
      for (std::size_t i = 0; i < slots_.size(); ++i) free_.push(static_cast<std::uint32_t>(i));
    }

    bool try_push(T&& element) {
      std::uint32_t slot;
      if (!free_.pop(slot)) return false;
      slots_[slot] = std::move(element);
      filled_.push(slot);
      return true;
    }

    bool try_pop(T& out) {
      std::uint32_t slot;
      if (!filled_.pop(slot)) return false;
      out = std::move(slots_[slot]);
      free_.push(slot);
      return true;
    }

   private:
    std::vector<T> slots_;
    boost::lockfree::spsc_queue<std::uint32_t> free_;    // dispatcher -> producer
    boost::lockfree::spsc_queue<std::uint32_t> filled_;  // producer -> dispatcher
  };
};

}  // namespace queue
POWERBATCH_END_NAMESPACE
