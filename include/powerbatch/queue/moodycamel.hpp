// queue::moodycamel — Cameron Desrochers' ConcurrentQueue (Debian's libconcurrentqueue-dev).
//
// Producers write to per-thread sub-queues, so two producers never contend on one cache line; the dispatcher
// drains them in bulk. Order is FIFO per producer, not across producers; the Priority policy orders what the
// dispatcher drained. Blocks are preallocated for `capacity` elements and recycled, so once every producer
// thread has pushed once the steady state allocates nothing. The batcher bounds the count itself.
//
// Models: QueuePolicy (multi-producer, single consumer). Complexity: O(1) amortised; bulk pop.
#pragma once

#include <powerbatch/config.hpp>

#include <concurrentqueue/concurrentqueue.h>

#include <cstddef>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace queue {

struct moodycamel {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity) : queue_(capacity) {}

    bool try_push(T&& element) { return queue_.enqueue(std::move(element)); }
    bool try_pop(T& out) { return queue_.try_dequeue(out); }
    template <class OutputIt>
    std::size_t try_pop_bulk(OutputIt out, std::size_t max) {
      return queue_.try_dequeue_bulk(out, max);
    }

   private:
    ::moodycamel::ConcurrentQueue<T> queue_;
  };
};

}  // namespace queue
POWERBATCH_END_NAMESPACE
