// Admission without a word that every producer writes: capacity credits and wake-up triggers kept per submitter
// group (a producer thread's ordinal modulo Groups). The batcher uses it where arrival order can rest on the CPU
// counter (counter_order.hpp); elsewhere it keeps one shared admission count.
//
// Why: on a 16-core Xeon, the shared count's atomic add took 78 % of submit's samples, and one such add per request
// halved what the bare queue moves (bench_batcher: ceiling_sharded_ring_shared_admission).
//
// Capacity: `capacity` credits in all, in a shared pool and in the groups' own words. A producer admits from its
// group's credits, a compare-and-swap on a line only its group writes. A group that runs dry takes a chunk from the
// pool; when the pool is dry too, the producer takes back the credits stranded in the other groups, and looks again
// while credits come back, before it refuses. The dispatcher returns the credits of requests that left to the pool,
// once per pass. So at most `capacity` requests are admitted and not yet left, as with the shared count.
//
// Wake-ups: each group's word also counts its admissions (wrapping). After each pass the dispatcher gives every group
// a trigger: the count at which an admission there wakes it. Each allowance (trigger less the count the dispatcher
// saw) is at least 1, and they sum to at most needed + Groups - 1. So `needed` new admissions always bring some group
// to its trigger: when no group is there, at most Groups * (allowance - 1) = needed - 1 arrived (pigeonhole). The
// allowances beyond 1 go to the groups that had arrivals since the last pass, in proportion, so a steady load wakes
// the dispatcher about once per batch.
//
// Closing: a closed bit in the pool and in every group's word; an admission that sees it refuses. Credits never
// leave a closed group, and a credit put into a closed word asks for a wake-up, so once every word is closed, the
// credits the dispatcher counts (all_given_back) can only grow until every request has left.
//
// Thread safety: admit, undo from any thread; close from any thread; the rest from the dispatcher only.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

template <unsigned Groups>
class grouped_admission {
 public:
  static constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

  struct admit_result {
    std::optional<errc> refusal;
    std::uint32_t count = 0;  // the group's admissions, ours included (for wakes())
    bool wake = false;        // credits went into a closed word: a shutdown waiting on them must look again
  };

  // capacity <= 2^30: the credit fields are 31 bits.
  explicit grouped_admission(std::size_t capacity)
      : chunk_(std::clamp<std::size_t>(capacity / (4 * Groups), 1, 256)), capacity_(capacity) {
    pool_.store(capacity, std::memory_order_relaxed);
  }

  // ---- producers ----

  // Admits n requests of `group`, all or none. With credits at hand (nearly always) it is one compare-and-swap,
  // inlined into the caller: as a call, perf put a third of its samples on reloading the result it had returned
  // through memory (2-core machine).
  [[gnu::always_inline]] admit_result admit(unsigned group, std::uint32_t n) {
    if (const auto count = take(groups_[group].word, n)) return {std::nullopt, *count, false};
    return admit_after_refill(group, n);
  }

  // Takes back n admissions of `group` whose requests never reached the queue. Returns true if the group is
  // closed: the dispatcher must look again (a shutdown may be waiting for these credits).
  bool undo(unsigned group, std::uint32_t n) {
    const std::uint64_t before =
        groups_[group].word.fetch_add(n - (std::uint64_t{n} << count_shift), std::memory_order_seq_cst);
    return (before & closed_bit) != 0;
  }

  // Whether an admission that brought `group`'s count to `count` must wake the dispatcher. Pairs with publish():
  // the admission's compare-and-swap comes before this load, and the dispatcher's trigger store before its
  // reread of the counts (recheck), so one of the two sees the other.
  bool wakes(unsigned group, std::uint32_t count) const noexcept {
    return reached(count, triggers_[group].load(std::memory_order_seq_cst));
  }

  // Closes admission: every later admit refuses with errc::shutting_down.
  void close() {
    pool_.fetch_or(closed_bit, std::memory_order_seq_cst);
    for (auto& g : groups_) g.word.fetch_or(closed_bit, std::memory_order_seq_cst);
  }

  // ---- dispatcher ----

  // Credits of n requests that left the batcher.
  void give_back(std::size_t n) { pool_.fetch_add(n, std::memory_order_seq_cst); }

  // Requests admitted and not yet given back: a snapshot for stats (credits moving between the pool and a group as it
  // reads may be counted twice or not at all).
  std::size_t outstanding() const noexcept {
    std::uint64_t free = credits_of(pool_.load(std::memory_order_seq_cst));
    for (const auto& g : groups_) free += credits_of(g.word.load(std::memory_order_seq_cst));
    return capacity_ > free ? static_cast<std::size_t>(capacity_ - free) : 0;
  }

  // Whether close() has reached every word and every credit has come back: a shutdown's last test. Reads the groups,
  // then the pool, and answers yes only if it saw them all closed. Then no credit could have left a group it had
  // read (closed groups keep their credits), and a credit on its way from the pool into a group was taken before
  // the pool read: so none is counted twice, and one counted nowhere only delays the answer (its deposit into a
  // closed word posts a wake-up). Before close() reached them all, a refill between the reads could be counted in
  // both and end a shutdown with a request still out.
  bool all_given_back() const noexcept {
    std::uint64_t free = 0;
    for (const auto& g : groups_) {
      const std::uint64_t w = g.word.load(std::memory_order_seq_cst);
      if (!(w & closed_bit)) return false;
      free += credits_of(w);
    }
    const std::uint64_t p = pool_.load(std::memory_order_seq_cst);
    return (p & closed_bit) && free + credits_of(p) == capacity_;
  }

  // Sets the triggers so that `needed` admissions not yet drained wake the dispatcher (unlimited: none does), given
  // that `drained` (wrapping) have been drained so far. Returns false if that many are admitted already (not all
  // drained: some producers are between admission and push).
  bool publish(std::uint32_t drained, std::uint64_t needed) {
    std::array<std::uint32_t, Groups> counts{}, arrived{};
    std::uint32_t admitted = 0;
    bool any_arrived = false;
    for (unsigned g = 0; g < Groups; ++g) {
      counts[g] = count_of(groups_[g].word.load(std::memory_order_seq_cst));
      admitted += counts[g];
      // (An undo can take a count back below what was seen.)
      arrived[g] = static_cast<std::uint32_t>(std::max(0, static_cast<std::int32_t>(counts[g] - seen_[g])));
      any_arrived = any_arrived || arrived[g] != 0;
    }
    if (any_arrived) weights_ = arrived;
    seen_ = counts;
    const std::uint32_t undrained = admitted - drained;
    if (needed == unlimited) {
      for (unsigned g = 0; g < Groups; ++g) set_trigger(g, counts[g] + never_allowance);
      return true;
    }
    if (needed <= undrained) {
      for (unsigned g = 0; g < Groups; ++g) set_trigger(g, counts[g] + 1);
      return false;
    }
    // Each group gets 1; the remaining needed - undrained - 1 go by weight, the rounding's leftover to the heaviest.
    const std::uint64_t extra = std::min<std::uint64_t>(needed - undrained - 1, never_allowance - 1);
    std::uint64_t total_weight = 0;
    unsigned heaviest = 0;
    for (unsigned g = 0; g < Groups; ++g) {
      total_weight += weights_[g];
      if (weights_[g] > weights_[heaviest]) heaviest = g;
    }
    std::array<std::uint64_t, Groups> allowance;
    std::uint64_t given = 0;
    for (unsigned g = 0; g < Groups; ++g) {
      const std::uint64_t share = total_weight == 0 ? 0 : extra * weights_[g] / total_weight;
      allowance[g] = 1 + share;
      given += share;
    }
    allowance[heaviest] += extra - given;
    for (unsigned g = 0; g < Groups; ++g) set_trigger(g, counts[g] + static_cast<std::uint32_t>(allowance[g]));
    return true;
  }

  // After publish() and a sequentially consistent fence: whether some group has reached its trigger.
  bool recheck() const noexcept {
    for (unsigned g = 0; g < Groups; ++g)
      if (reached(count_of(groups_[g].word.load(std::memory_order_seq_cst)),
                  triggers_[g].load(std::memory_order_relaxed)))
        return true;
    return false;
  }

 private:
  // A word: admissions (wrapping) << count_shift | closed_bit | credits.
  static constexpr int count_shift = 32;
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 31;
  static constexpr std::uint64_t credit_mask = closed_bit - 1;
  // An allowance no group can use up before the dispatcher looks again: admissions in flight are at most 2^30. Below
  // 2^31, so that a count an undo took below the one seen still reads as short of its trigger.
  static constexpr std::uint32_t never_allowance = (std::uint32_t{1} << 31) - 1;
  static constexpr int max_reclaims = 4;

  static constexpr std::uint64_t credits_of(std::uint64_t w) noexcept { return w & credit_mask; }
  static constexpr std::uint32_t count_of(std::uint64_t w) noexcept {
    return static_cast<std::uint32_t>(w >> count_shift);
  }
  static constexpr bool reached(std::uint32_t count, std::uint32_t trigger) noexcept {
    return static_cast<std::int32_t>(count - trigger) >= 0;
  }

  struct refill_result {
    std::optional<errc> refusal;
    bool wake = false;
  };

  // Takes n credits from an open group word and counts n admissions: the group's count after, or nothing if the
  // word is closed or holds fewer than n credits.
  [[gnu::always_inline]] static std::optional<std::uint32_t> take(std::atomic<std::uint64_t>& word, std::uint32_t n) {
    std::uint64_t w = word.load(std::memory_order_relaxed);
    while (!(w & closed_bit) && credits_of(w) >= n) {
      const std::uint64_t desired = w - n + (std::uint64_t{n} << count_shift);
      if (word.compare_exchange_weak(w, desired, std::memory_order_seq_cst, std::memory_order_relaxed))
        return count_of(desired);
    }
    return std::nullopt;
  }

  // admit() once its group is closed or short of credits: refills the group and tries again, or refuses.
  [[gnu::noinline]] admit_result admit_after_refill(unsigned group, std::uint32_t n) {
    std::atomic<std::uint64_t>& word = groups_[group].word;
    bool wake = false;
    for (;;) {
      const std::uint64_t w = word.load(std::memory_order_relaxed);
      if (w & closed_bit) return {errc::shutting_down, 0, wake};
      if (credits_of(w) < n) {
        const refill_result refilled = refill(group, n - static_cast<std::uint32_t>(credits_of(w)));
        wake = wake || refilled.wake;
        if (refilled.refusal) return {refilled.refusal, 0, wake};
      }
      if (const auto count = take(word, n)) return {std::nullopt, *count, wake};
    }
  }

  // Moves at least `need` credits from the pool into `group`'s word, a chunk where the pool has one. When the pool
  // has too few, takes back the other groups' unused credits and looks again, for as long as that (or another
  // producer's reclaim, or the dispatcher's return) changes what the pool holds, up to max_reclaims times: credits
  // on their way back count, as they would under a shared count. (With one reclaim and no second look, a review's
  // stress program saw 1-3 % of admissions refused near capacity, four threads sharing group words.)
  refill_result refill(unsigned group, std::uint32_t need) {
    bool wake = false;
    for (int reclaims = 0;; ++reclaims) {
      std::uint64_t p = pool_.load(std::memory_order_relaxed);
      std::uint64_t take = 0;
      for (;;) {
        if (p & closed_bit) return {errc::shutting_down, wake};
        if (credits_of(p) < need) break;
        take = std::max<std::uint64_t>(need, std::min<std::uint64_t>(chunk_, credits_of(p)));
        if (pool_.compare_exchange_weak(p, p - take, std::memory_order_seq_cst, std::memory_order_relaxed)) break;
        take = 0;
      }
      if (take != 0) {
        const std::uint64_t before = groups_[group].word.fetch_add(take, std::memory_order_seq_cst);
        return {std::nullopt, wake || (before & closed_bit) != 0};
      }
      if (reclaims == max_reclaims) return {errc::queue_full, wake};
      const reclaim_result reclaimed = reclaim();
      wake = wake || reclaimed.pool_closed;
      if (reclaimed.found == 0 && pool_.load(std::memory_order_relaxed) == p) return {errc::queue_full, wake};
    }
  }

  struct reclaim_result {
    std::uint64_t found = 0;   // credits moved to the pool
    bool pool_closed = false;  // the pool had closed meanwhile
  };

  // Moves every open group's unused credits back to the pool.
  reclaim_result reclaim() {
    std::uint64_t found = 0;
    for (auto& g : groups_) {
      std::uint64_t w = g.word.load(std::memory_order_relaxed);
      while (!(w & closed_bit) && credits_of(w) != 0 &&
             !g.word.compare_exchange_weak(w, w - credits_of(w), std::memory_order_seq_cst,
                                           std::memory_order_relaxed)) {
      }
      if (!(w & closed_bit)) found += credits_of(w);
    }
    if (found == 0) return {};
    return {found, (pool_.fetch_add(found, std::memory_order_seq_cst) & closed_bit) != 0};
  }

  void set_trigger(unsigned g, std::uint32_t trigger) {
    if (triggers_[g].load(std::memory_order_relaxed) != trigger) triggers_[g].store(trigger, std::memory_order_seq_cst);
  }

  struct alignas(POWERBATCH_CACHE_LINE) group_word {
    std::atomic<std::uint64_t> word{0};
  };

  // Read-only after construction.
  const std::size_t chunk_;
  const std::uint64_t capacity_;
  // Written by producers: each group's word on its own line; the pool only once a chunk.
  alignas(POWERBATCH_CACHE_LINE) std::atomic<std::uint64_t> pool_{0};
  group_word groups_[Groups];
  // Written by the dispatcher once a pass, read by producers after each admission.
  alignas(POWERBATCH_CACHE_LINE) std::atomic<std::uint32_t> triggers_[Groups] = {};
  // Dispatcher only: each group's count at the last publish, and its arrivals in the latest pass that had any.
  alignas(POWERBATCH_CACHE_LINE) std::array<std::uint32_t, Groups> seen_{};
  std::array<std::uint32_t, Groups> weights_{};
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
