// priority::earliest_deadline — earliest deadline first; requests without a deadline follow, oldest first.
//
// Models: PriorityPolicy. Defaults: no parameters.
// Complexity: O(log n) push and pop; oldest_arrival is O(1) until the oldest deadlined request leaves, then one
// O(n) rescan (done lazily, at most once per decision); O(n) erase_if. Thread safety: dispatcher only.
#pragma once

#include <powerbatch/concepts/priority_policy.hpp>
#include <powerbatch/detail/ring.hpp>

#include <algorithm>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace priority {

struct earliest_deadline {
  struct params {};

  template <class Entry>
  class container {
   public:
    explicit container(const params&) {}

    void push(const Entry& e) {
      if (e.deadline == time_point::max()) {
        undated_.push_back(e);
        return;
      }
      dated_.push_back(e);
      std::push_heap(dated_.begin(), dated_.end(), later);
      if (!oldest_dated_stale_ && e.arrival < oldest_dated_) oldest_dated_ = e.arrival;
    }

    std::size_t size() const noexcept { return dated_.size() + undated_.size(); }
    bool empty() const noexcept { return size() == 0; }

    Entry pop(time_point) {
      if (dated_.empty()) return undated_.pop_front();
      std::pop_heap(dated_.begin(), dated_.end(), later);
      Entry e = dated_.back();
      dated_.pop_back();
      if (e.arrival <= oldest_dated_) oldest_dated_stale_ = true;
      return e;
    }

    time_point oldest_arrival() const {
      if (oldest_dated_stale_) {
        oldest_dated_ = time_point::max();
        for (const Entry& e : dated_) oldest_dated_ = std::min(oldest_dated_, e.arrival);
        oldest_dated_stale_ = false;
      }
      return undated_.empty() ? oldest_dated_ : std::min(oldest_dated_, undated_.front().arrival);
    }

    template <class Pred, class Sink>
    void erase_if(Pred&& pred, Sink&& sink) {
      undated_.erase_if(pred, sink);
      auto kept = std::remove_if(dated_.begin(), dated_.end(), [&](const Entry& e) {
        if (!pred(e)) return false;
        sink(e);
        return true;
      });
      if (kept != dated_.end()) {
        dated_.erase(kept, dated_.end());
        std::make_heap(dated_.begin(), dated_.end(), later);
        oldest_dated_stale_ = true;
      }
    }

   private:
    // std::push_heap builds a max-heap; "later" puts the earliest deadline (then the lowest sequence) on top.
    static bool later(const Entry& a, const Entry& b) noexcept {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.sequence > b.sequence;
    }

    std::vector<Entry> dated_;
    detail::ring<Entry> undated_;
    mutable time_point oldest_dated_ = time_point::max();
    mutable bool oldest_dated_stale_ = false;
  };
};

}  // namespace priority
POWERBATCH_END_NAMESPACE
