// queue::sharded_ring<Shards> — a few bounded rings, one home ring per producer thread, drained by one consumer.
//
// Why: with moodycamel's queue, a bare producer -> spinning consumer hand-off (bench_batcher's
// ceiling_moodycamel_spin) moved 9-12 M requests/s with two producers on a lent 16-core Xeon, in five runs; rings
// moved 18-70 M (ceiling_spsc_rings); the batcher over this queue moved 1.2-1.45x what it did over moodycamel in
// four of five interleaved pairs of runs (1.05x in the fifth).
// What makes a ring cheap here:
//   - a producer's push touches its ring's tail (a line only that ring's producers write, so it stays in their
//     cache) and the slot itself; the consumer's head is its own, on another line;
//   - slots are padded to whole cache lines, so a producer filling slot i + 1 never takes the line the consumer
//     is reading slot i from (in one side-by-side run, 16-byte slots, four to a line, moved a third of what
//     128-byte slots did).
// Each slot carries a turn (Vyukov's bounded queue, in the form of Rigtorp's MPMCQueue): for lap k of the ring it is
// 2k while free and 2k + 1 once filled, so a push claims a position with one CAS on the tail and publishes it with
// one release store, and the consumer needs no shared index at all.
//
// A thread's home ring is its detail::this_thread_ordinal() (0, 1, 2, ... as threads first ask), so the first Shards
// producer threads get a ring each; more threads share rings, which stays correct (the tail is a CAS) and costs only
// contention. Order is FIFO per ring, not across rings; the batcher orders what it drained by arrival.
//
// Capacity: every ring holds `capacity` (rounded up to a power of two), so a push into the home ring cannot fail
// while the batcher's admission keeps the total at or below `capacity`; a full home ring (only if a user pushes
// past capacity) sends the push on to the others, and try_push returns false only when it found them all full.
// The rings are zero-filled on allocation and touched only as positions come round: a ring nobody pushes to
// costs address space, not memory.
//
// Models: QueuePolicy (multi-producer, single consumer). Complexity: O(1) push; pop and bulk pop O(1) per element
// plus O(Shards) per call. Thread safety: try_push from any thread; try_pop / try_pop_bulk from one thread.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/detail/thread_ordinal.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace queue {

namespace sharded_ring_detail {

// calloc'd, so the turns start at 0 (free, lap 0) without touching the pages.
struct zeroed_block_deleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

}  // namespace sharded_ring_detail

template <std::size_t Shards = 8>
struct sharded_ring {
  static_assert(Shards >= 1, "sharded_ring needs at least one ring");

  template <class T>
  class queue {
    // Only a T whose move can throw needs to say that a filled slot holds nothing; for the others the flag takes no
    // room, and the value starts right after the turn (for the batcher's request: in the slot's first line).
    static constexpr bool move_may_throw = !std::is_nothrow_move_constructible_v<T>;
    struct always_holds_value {
      static constexpr bool value = true;
    };
    struct value_flag {
      bool value;
    };

    // A slot owns whole cache lines. Its fields are plain (implicit-lifetime) objects created by calloc and
    // accessed through atomic_ref, so an untouched slot is an untouched page.
    struct alignas(POWERBATCH_CACHE_LINE) slot {
      std::uint64_t turn;  // 2k: free for lap k; 2k + 1: filled in lap k
      // false only if T's move threw while filling (the consumer then skips the slot)
      [[no_unique_address]] std::conditional_t<move_may_throw, value_flag, always_holds_value> holds_value;
      alignas(T) unsigned char storage[sizeof(T)];
    };
    static_assert(std::is_trivially_default_constructible_v<slot> && std::is_trivially_destructible_v<slot>);

    struct ring {
      // Written by producers only.
      alignas(POWERBATCH_CACHE_LINE) std::atomic<std::uint64_t> tail{0};
      slot* producer_slots = nullptr;  // the same array as consumer_slots, on each side's own line
      // Written by the consumer only.
      alignas(POWERBATCH_CACHE_LINE) std::uint64_t head = 0;
      slot* consumer_slots = nullptr;
    };
    static constexpr std::size_t slot_alignment = alignof(slot);

   public:
    // Bytes each queued position takes (whole cache lines): a ring in use holds capacity (rounded up to a power of
    // two) of them.
    static constexpr std::size_t slot_bytes = sizeof(slot);

    explicit queue(std::size_t capacity)
        : mask_(ring_size(capacity) - 1),
          lap_shift_(static_cast<unsigned>(std::countr_zero(mask_ + 1))) {
      // One block for all rings: slots start a cache line in, whatever calloc's own alignment.
      const std::size_t slots = (mask_ + 1) * Shards;
      if (slots > (std::numeric_limits<std::size_t>::max() - slot_alignment) / sizeof(slot)) throw std::bad_alloc();
      block_.reset(std::calloc(slots * sizeof(slot) + slot_alignment, 1));
      if (!block_) throw std::bad_alloc();
      auto address = reinterpret_cast<std::uintptr_t>(block_.get());
      address = (address + slot_alignment - 1) & ~std::uintptr_t{slot_alignment - 1};
      slot* first = reinterpret_cast<slot*>(address);
      for (std::size_t r = 0; r < Shards; ++r) {
        rings_[r].producer_slots = first + r * (mask_ + 1);
        rings_[r].consumer_slots = rings_[r].producer_slots;
      }
    }

    queue(const queue&) = delete;
    queue& operator=(const queue&) = delete;

    ~queue() {
      for (auto& r : rings_)
        while (slot* s = filled_front(r)) release(r, *s);
    }

    bool try_push(T&& element) {
      const std::size_t home = detail::this_thread_ordinal() % Shards;
      for (std::size_t k = 0; k < Shards; ++k)
        if (push_into(rings_[(home + k) % Shards], element)) return true;
      return false;
    }

    bool try_pop(T& out) { return try_pop_bulk(&out, 1) == 1; }

    template <class OutputIt>
    std::size_t try_pop_bulk(OutputIt out, std::size_t max) {
      std::size_t n = 0;
      const std::size_t first = next_start();
      for (std::size_t k = 0; k < Shards && n < max; ++k) {
        ring& r = rings_[(first + k) % Shards];
        while (n < max) {
          slot* s = filled_front(r);
          if (!s) break;
          if (s->holds_value.value) {
            *out = std::move(*value_in(*s));
            ++out;
            ++n;
          }
          release(r, *s);
        }
      }
      return n;
    }

   private:
    static std::size_t ring_size(std::size_t capacity) {
      if (capacity > std::numeric_limits<std::size_t>::max() / 2 + 1) throw std::bad_alloc();  // no power of two fits
      return std::bit_ceil(std::max<std::size_t>(capacity, 1));
    }

    static T* value_in(slot& s) noexcept { return std::launder(reinterpret_cast<T*>(s.storage)); }
    static std::atomic_ref<std::uint64_t> turn_of(slot& s) noexcept { return std::atomic_ref<std::uint64_t>(s.turn); }

    std::uint64_t lap(std::uint64_t position) const noexcept { return position >> lap_shift_; }

    bool push_into(ring& r, T& element) {
      std::uint64_t position = r.tail.load(std::memory_order_relaxed);
      for (;;) {
        slot& s = r.producer_slots[position & mask_];
        const std::uint64_t free_turn = 2 * lap(position);
        const std::uint64_t turn = turn_of(s).load(std::memory_order_acquire);
        if (turn == free_turn) {
          if (r.tail.compare_exchange_weak(position, position + 1, std::memory_order_relaxed,
                                           std::memory_order_relaxed)) {
            fill(s, element, free_turn);
            turn_of(s).store(free_turn + 1, std::memory_order_release);
            return true;
          }
          // position now holds the tail another producer moved on to: try there.
        } else if (turn < free_turn) {
          // The slot still holds lap k - 1's element: the ring is full, unless the tail moved meanwhile.
          const std::uint64_t seen = std::exchange(position, r.tail.load(std::memory_order_relaxed));
          if (position == seen) return false;
        } else {
          position = r.tail.load(std::memory_order_relaxed);  // another producer filled it: we read an old tail
        }
      }
    }

    static void fill(slot& s, T& element, std::uint64_t free_turn) {
      if constexpr (!move_may_throw) {
        ::new (static_cast<void*>(s.storage)) T(std::move(element));
      } else {
        // The position is claimed: publish it whatever happens, empty if the move throws, so the ring moves on.
        try {
          ::new (static_cast<void*>(s.storage)) T(std::move(element));
          s.holds_value.value = true;
        } catch (...) {
          s.holds_value.value = false;
          turn_of(s).store(free_turn + 1, std::memory_order_release);
          throw;
        }
      }
    }

    // The slot at the ring's head if it is filled, else null. Consumer only.
    slot* filled_front(ring& r) noexcept {
      slot& s = r.consumer_slots[r.head & mask_];
      return turn_of(s).load(std::memory_order_acquire) == 2 * lap(r.head) + 1 ? &s : nullptr;
    }

    // Destroys the head slot's value (if any) and frees the slot for the next lap. Consumer only.
    void release(ring& r, slot& s) noexcept {
      if (s.holds_value.value) value_in(s)->~T();
      turn_of(s).store(2 * lap(r.head) + 2, std::memory_order_release);
      ++r.head;
    }

    // Each pop starts at the next ring, so that no ring waits behind a busy one when `max` cuts a pop short.
    std::size_t next_start() noexcept {
      const std::size_t first = start_;
      start_ = (start_ + 1) % Shards;
      return first;
    }

    // Read-only after construction (shared by every core's cache).
    const std::size_t mask_;
    const unsigned lap_shift_;
    std::unique_ptr<void, sharded_ring_detail::zeroed_block_deleter> block_;
    alignas(POWERBATCH_CACHE_LINE) std::size_t start_ = 0;  // consumer only
    ring rings_[Shards];
  };
};

}  // namespace queue
POWERBATCH_END_NAMESPACE
