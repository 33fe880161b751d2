// metrics::writer_reader_phaser — lets many writers record into one of two buffers without waiting, and a reader
// take the other buffer once no writer is left in it (HdrHistogram's WriterReaderPhaser).
//
// A writer brackets its updates with enter() / exit(); the token enter() returns says which buffer (0 or 1) is
// current. The reader, one at a time, calls flip(): new writers move to the other buffer, and flip() returns once
// every writer that entered before it has exited, so the buffer it returns can be read and cleared with no writer
// in it. Each bracketed update is therefore counted entirely in one reading or entirely in the next, never split.
//
// Writers: wait-free, two atomic additions. Reader: waits only for writers already inside (a few stores each).
#pragma once

#include <powerbatch/config.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <thread>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

class writer_reader_phaser {
 public:
  // The even phase counts up from 0, the odd one from the most negative value: the sign of a writer's ticket says
  // which phase (and buffer) it entered.
  class ticket {
   public:
    std::size_t buffer() const noexcept { return value_ < 0 ? 1 : 0; }

   private:
    friend class writer_reader_phaser;
    explicit ticket(std::int64_t value) noexcept : value_(value) {}
    std::int64_t value_;
  };

  // Acquire: a writer entering a phase sees the buffer as the reader left it (cleared).
  ticket enter() noexcept { return ticket(start_epoch_.fetch_add(1, std::memory_order_acq_rel)); }

  // Release: the reader waiting in flip() sees everything this writer wrote.
  void exit(ticket t) noexcept {
    (t.value_ < 0 ? odd_end_epoch_ : even_end_epoch_).fetch_add(1, std::memory_order_release);
  }

  // Moves writers to the other buffer and waits until the one they left is quiescent; returns that buffer.
  // One reader at a time (the caller holds a lock).
  std::size_t flip() noexcept {
    const bool next_is_even = start_epoch_.load(std::memory_order_relaxed) < 0;
    const std::int64_t initial = next_is_even ? 0 : std::numeric_limits<std::int64_t>::min();
    (next_is_even ? even_end_epoch_ : odd_end_epoch_).store(initial, std::memory_order_relaxed);
    const std::int64_t entered = start_epoch_.exchange(initial, std::memory_order_acq_rel);
    std::atomic<std::int64_t>& left_phase_end = next_is_even ? odd_end_epoch_ : even_end_epoch_;
    while (left_phase_end.load(std::memory_order_acquire) != entered) std::this_thread::yield();
    return next_is_even ? 1 : 0;
  }

 private:
  alignas(POWERBATCH_CACHE_LINE) std::atomic<std::int64_t> start_epoch_{0};
  alignas(POWERBATCH_CACHE_LINE) std::atomic<std::int64_t> even_end_epoch_{0};
  std::atomic<std::int64_t> odd_end_epoch_{std::numeric_limits<std::int64_t>::min()};
};

}  // namespace metrics
POWERBATCH_END_NAMESPACE
