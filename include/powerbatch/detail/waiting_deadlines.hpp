// The earliest deadline among a lane's waiting requests, kept as they come and go.
//
// The dispatcher needs it on every decision (the Timeout policy's view, the timer). A cached minimum that a departure
// made stale was rebuilt by scanning the whole lane, and with a timeout on every request each batch took the
// earliest one with it: one scan of the lane per batch, most of the dispatcher's time once the lane grew (measured
// on bench_batcher's hot_path_timeout).
//
// Here each deadline is marked once and its mark dropped once, lazily: a departure only clears its slab slot in
// `filed` (shared by the dispatcher's lanes: the sequence the slot's entry was filed with, or no_entry), and marks
// of requests that have left are dropped when they reach the front. Deadlines mostly arrive in order (one timeout
// for every request), so marks go to a queue that stays sorted, and only a deadline earlier than the last one queued
// goes to a min-heap: O(1) a request in the common case, O(log n) for the others. When dead marks outnumber the live
// ones (departures from behind the front), both are rebuilt from the live marks.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

class waiting_deadlines {
 public:
  static constexpr std::uint64_t no_entry = std::numeric_limits<std::uint64_t>::max();

  // A request filed in slab slot `slot` with `sequence` (unique per dispatcher), which carries `deadline`.
  void add(time_point deadline, std::uint32_t slot, std::uint64_t sequence, std::span<std::uint64_t> filed) {
    filed[slot] = sequence;
    ++live_;
    if (marks() >= 2 * live_ + compact_slack) compact(filed);
    const mark m{deadline, sequence, slot};
    if (sorted_.size() == sorted_front_ || sorted_.back().deadline <= deadline) {
      sorted_.push_back(m);
    } else {
      heap_.push_back(m);
      std::push_heap(heap_.begin(), heap_.end(), later{});
    }
  }

  // The request in `slot`, added before, has left the lane.
  void remove(std::uint32_t slot, std::span<std::uint64_t> filed) noexcept {
    filed[slot] = no_entry;
    --live_;
  }

  // The earliest deadline still waiting, or time_point::max().
  time_point earliest(std::span<const std::uint64_t> filed) {
    if (live_ == 0) {
      clear();
      return time_point::max();
    }
    while (sorted_front_ < sorted_.size() && !is_live(sorted_[sorted_front_], filed)) ++sorted_front_;
    if (sorted_front_ > 64 && 2 * sorted_front_ > sorted_.size()) drop_sorted_front();
    while (!heap_.empty() && !is_live(heap_.front(), filed)) {
      std::pop_heap(heap_.begin(), heap_.end(), later{});
      heap_.pop_back();
    }
    time_point earliest = heap_.empty() ? time_point::max() : heap_.front().deadline;
    if (sorted_front_ < sorted_.size()) earliest = std::min(earliest, sorted_[sorted_front_].deadline);
    return earliest;
  }

  // For a lane that is empty: forget everything.
  void clear() noexcept {
    sorted_.clear();
    sorted_front_ = 0;
    heap_.clear();
    live_ = 0;
  }

  std::size_t live() const noexcept { return live_; }
  std::size_t marks() const noexcept { return sorted_.size() - sorted_front_ + heap_.size(); }

 private:
  struct mark {
    time_point deadline;
    std::uint64_t sequence;
    std::uint32_t slot;
  };
  struct later {
    bool operator()(const mark& a, const mark& b) const noexcept { return a.deadline > b.deadline; }
  };
  // Dead marks allowed beyond the live ones before a rebuild: a small lane is not rebuilt on every departure.
  static constexpr std::size_t compact_slack = 32;

  static bool is_live(const mark& m, std::span<const std::uint64_t> filed) noexcept {
    return filed[m.slot] == m.sequence;
  }

  void drop_sorted_front() {
    sorted_.erase(sorted_.begin(), sorted_.begin() + static_cast<std::ptrdiff_t>(sorted_front_));
    sorted_front_ = 0;
  }

  void compact(std::span<const std::uint64_t> filed) {
    drop_sorted_front();
    auto dead = [&](const mark& m) { return !is_live(m, filed); };
    std::erase_if(sorted_, dead);  // keeps the order
    std::erase_if(heap_, dead);
    std::make_heap(heap_.begin(), heap_.end(), later{});
  }

  std::vector<mark> sorted_;  // ascending deadlines; [sorted_front_, end) still to look at
  std::size_t sorted_front_ = 0;
  std::vector<mark> heap_;  // the rest, a min-heap on deadline
  std::size_t live_ = 0;
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
