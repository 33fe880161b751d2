// priority::fifo — first come, first served, ignoring the priority field.
//
// Models: PriorityPolicy (with the optional pop_up_to). Defaults: no parameters. Complexity: O(1) push and pop,
// O(n) erase_if.
// Thread safety: dispatcher only.
#pragma once

#include <powerbatch/concepts/priority_policy.hpp>
#include <powerbatch/detail/ring.hpp>

#include <algorithm>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace priority {

struct fifo {
  struct params {};

  template <class Entry>
  class container {
   public:
    explicit container(const params&) {}

    void push(const Entry& e) { entries_.push_back(e); }
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    Entry pop(time_point) { return entries_.pop_front(); }
    template <class Out>
    std::size_t pop_up_to(std::size_t n, time_point, Out& out) {
      n = std::min(n, entries_.size());
      entries_.pop_front_into(n, out);
      return n;
    }
    // Entries arrive in sequence order, which follows arrival order, so the front is the oldest.
    time_point oldest_arrival() const noexcept { return entries_.front().arrival; }

    template <class Pred, class Sink>
    void erase_if(Pred&& pred, Sink&& sink) {
      entries_.erase_if(pred, sink);
    }

   private:
    detail::ring<Entry> entries_;
  };
};

}  // namespace priority
POWERBATCH_END_NAMESPACE
