// priority::strict_levels and priority::aging — one FIFO per priority level (seed 000's PriorityBatcher).
//
// strict_levels<N>: level 0 always goes first; a lower level leaves only when every higher one is empty.
// aging<N>: the same, but a request's effective level improves by one for every `aging_step` it has waited, so a
//           flood of urgent work delays low priority by at most (level difference) x aging_step: nothing starves.
// Priorities >= N are treated as level N-1.
//
// Models: PriorityPolicy (strict_levels also the optional pop_up_to). Defaults: N = 3 (high, normal, low);
// aging_step = 10 ms.
// Complexity: O(1) push, O(N) pop and oldest_arrival, O(n) erase_if; strict_levels also pops a batch's worth at
// once (pop_up_to: O(N) plus the copies). Thread safety: dispatcher only.
#pragma once

#include <powerbatch/concepts/priority_policy.hpp>
#include <powerbatch/detail/ring.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace priority {
namespace levels_detail {

template <std::size_t Levels, bool Aging, class Entry>
class level_queues {
  static_assert(Levels >= 1 && Levels <= 256, "a priority level count must be between 1 and 256");

 public:
  void push(const Entry& e) {
    levels_[e.priority < Levels ? e.priority : Levels - 1].push_back(e);
    ++size_;
  }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  Entry pop(time_point now, duration aging_step) {
    std::size_t best = Levels;
    if constexpr (!Aging) {
      for (std::size_t level = 0; level < Levels; ++level)
        if (!levels_[level].empty()) {
          best = level;
          break;
        }
    } else {
      // Effective level = level - waited / aging_step; a tie goes to the higher (more urgent) level.
      long long best_score = 0;
      for (std::size_t level = 0; level < Levels; ++level) {
        if (levels_[level].empty()) continue;
        const Entry& front = levels_[level].front();
        const long long promoted = now > front.arrival ? (now - front.arrival) / aging_step : 0;
        const long long score = static_cast<long long>(level) - promoted;
        if (best == Levels || score < best_score) {
          best = level;
          best_score = score;
        }
      }
    }
    --size_;
    return levels_[best].pop_front();
  }

  // Strict levels only: up to n entries in the order pop() would give them (level by level, each in arrival
  // order), appended to out.
  template <class Out>
  std::size_t pop_up_to(std::size_t n, Out& out)
    requires(!Aging)
  {
    std::size_t taken = 0;
    for (std::size_t level = 0; level < Levels && taken < n; ++level) {
      const std::size_t k = std::min(n - taken, levels_[level].size());
      levels_[level].pop_front_into(k, out);
      taken += k;
    }
    size_ -= taken;
    return taken;
  }

  time_point oldest_arrival() const noexcept {
    time_point oldest = time_point::max();
    for (const auto& level : levels_)
      if (!level.empty() && level.front().arrival < oldest) oldest = level.front().arrival;
    return oldest;
  }

  template <class Pred, class Sink>
  void erase_if(Pred&& pred, Sink&& sink) {
    size_ = 0;
    for (auto& level : levels_) {
      level.erase_if(pred, sink);
      size_ += level.size();
    }
  }

 private:
  std::array<detail::ring<Entry>, Levels> levels_;
  std::size_t size_ = 0;
};

}  // namespace levels_detail

template <std::size_t Levels = 3>
struct strict_levels {
  static constexpr std::size_t level_count = Levels;
  struct params {};

  template <class Entry>
  class container {
   public:
    explicit container(const params&) {}
    void push(const Entry& e) { queues_.push(e); }
    std::size_t size() const noexcept { return queues_.size(); }
    bool empty() const noexcept { return queues_.empty(); }
    Entry pop(time_point now) { return queues_.pop(now, duration::max()); }
    template <class Out>
    std::size_t pop_up_to(std::size_t n, time_point, Out& out) {
      return queues_.pop_up_to(n, out);
    }
    time_point oldest_arrival() const noexcept { return queues_.oldest_arrival(); }
    template <class Pred, class Sink>
    void erase_if(Pred&& pred, Sink&& sink) {
      queues_.erase_if(pred, sink);
    }

   private:
    levels_detail::level_queues<Levels, false, Entry> queues_;
  };
};

template <std::size_t Levels = 3>
struct aging {
  static constexpr std::size_t level_count = Levels;
  struct params {
    // Waiting this long lifts a request by one level.
    duration aging_step = std::chrono::milliseconds(10);
  };

  template <class Entry>
  class container {
   public:
    explicit container(const params& p) : aging_step_(p.aging_step > duration::zero() ? p.aging_step : duration(1)) {}
    void push(const Entry& e) { queues_.push(e); }
    std::size_t size() const noexcept { return queues_.size(); }
    bool empty() const noexcept { return queues_.empty(); }
    Entry pop(time_point now) { return queues_.pop(now, aging_step_); }
    time_point oldest_arrival() const noexcept { return queues_.oldest_arrival(); }
    template <class Pred, class Sink>
    void erase_if(Pred&& pred, Sink&& sink) {
      queues_.erase_if(pred, sink);
    }

   private:
    duration aging_step_;
    levels_detail::level_queues<Levels, true, Entry> queues_;
  };
};

}  // namespace priority
POWERBATCH_END_NAMESPACE
