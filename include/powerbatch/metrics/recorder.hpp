// metrics::recorder — a batcher Observer that counts what the batcher does, lock-free, and hands out consistent
// snapshots: `Batcher<Queue, Timeout, Priority, Backend, Clock, metrics::recorder>`, then
// `batcher.observer().snapshot()`.
//
// Hot path: on_batch() costs two relaxed atomic additions per request (its queue-time and latency buckets) plus a
// few per batch; on_rejected() and on_dispatcher_wakeup() a few each. No locks, no allocation.
// Contention: counts are kept in `Stripes` independent copies, each with its own phaser, and a thread always
// records into the same copy (threads are spread round-robin), so batches finishing on different threads rarely
// write the same cache line.
// Consistency: each stripe has two buffers and a writer_reader_phaser. snapshot() flips every stripe to its other
// buffer, waits for the writers still in the old one, and folds it into running totals; so each hook call is
// counted entirely in one snapshot (a batch's histograms, its flush reason and its size agree), never split.
// Snapshots are cumulative since construction (or reset()); one reader at a time (a mutex, readers only).
//
// Memory: 2 * Stripes buffers of about 57 KiB each, allocated once at construction (about 230 KiB for 2 stripes).
// Range: durations up to 2^37 ns (137 s) and batch sizes up to 2^20 are bucketed; larger values are counted in the
// last bucket, and the snapshot's max still holds the exact largest value.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/observer.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/error.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/phaser.hpp>
#include <powerbatch/metrics/snapshot.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

namespace detail {

// The stripe a thread records into: threads get consecutive numbers on first use.
inline std::size_t this_thread_number() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t number = next.fetch_add(1, std::memory_order_relaxed);
  return number;
}

// One histogram's counts in one buffer. Written by writers inside the phaser, read and cleared by the reader when
// the buffer is quiescent: relaxed atomics throughout, ordered by the phaser.
template <unsigned ValueBits>
struct atomic_histogram {
  static constexpr std::size_t bucket_count = bucket_count_for_bits(ValueBits);
  static constexpr std::uint64_t largest_bucketed = std::uint64_t{1} << ValueBits;

  std::array<std::atomic<std::uint64_t>, bucket_count> buckets{};
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::uint64_t> min{std::numeric_limits<std::uint64_t>::max()};
  std::atomic<std::uint64_t> max{0};

  void count(std::uint64_t value) noexcept {
    buckets[bucket_index(std::min(value, largest_bucketed))].fetch_add(1, std::memory_order_relaxed);
  }
  // The sum, minimum and maximum of values counted one by one, added once per call.
  void summarise(std::uint64_t values_sum, std::uint64_t values_min, std::uint64_t values_max) noexcept {
    sum.fetch_add(values_sum, std::memory_order_relaxed);
    std::uint64_t seen = min.load(std::memory_order_relaxed);
    while (values_min < seen && !min.compare_exchange_weak(seen, values_min, std::memory_order_relaxed)) {
    }
    seen = max.load(std::memory_order_relaxed);
    while (values_max > seen && !max.compare_exchange_weak(seen, values_max, std::memory_order_relaxed)) {
    }
  }
  void record(std::uint64_t value) noexcept {
    count(value);
    summarise(value, value, value);
  }

  // Adds this buffer's counts to `total` and clears them. Reader only, on a quiescent buffer.
  void drain_into(histogram_snapshot& total) noexcept {
    std::uint64_t n = 0;
    std::size_t used = 0;
    for (std::size_t i = 0; i < bucket_count; ++i)
      if (buckets[i].load(std::memory_order_relaxed) != 0) used = i + 1;
    if (used == 0) return;
    if (total.buckets.size() < used) total.buckets.resize(used, 0);
    for (std::size_t i = 0; i < used; ++i) {
      const std::uint64_t c = buckets[i].load(std::memory_order_relaxed);
      total.buckets[i] += c;
      n += c;
      buckets[i].store(0, std::memory_order_relaxed);
    }
    const std::uint64_t lo = min.exchange(std::numeric_limits<std::uint64_t>::max(), std::memory_order_relaxed);
    const std::uint64_t hi = max.exchange(0, std::memory_order_relaxed);
    total.min = total.count == 0 ? lo : std::min(total.min, lo);
    total.max = total.count == 0 ? hi : std::max(total.max, hi);
    total.count += n;
    total.sum += sum.exchange(0, std::memory_order_relaxed);
  }
};

struct relaxed_counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t take() noexcept { return value.exchange(0, std::memory_order_relaxed); }
};

// Everything one stripe counts in one phase.
struct recorder_buffer {
  static constexpr unsigned duration_bits = 37;  // 2^37 ns = 137 s
  static constexpr unsigned batch_size_bits = 20;

  atomic_histogram<duration_bits> queue_time, backend_time, latency;
  atomic_histogram<batch_size_bits> batch_size;
  relaxed_counter batches, failed_batches, requests, failed_requests;
  std::array<relaxed_counter, flush_reason_count> flushes;
  std::array<relaxed_counter, rejection_slot_count> rejections;
  relaxed_counter dispatcher_runs, thread_wakeups;

  void drain_into(metrics_snapshot& total) noexcept {
    queue_time.drain_into(total.queue_time);
    backend_time.drain_into(total.backend_time);
    latency.drain_into(total.latency);
    batch_size.drain_into(total.batch_size);
    total.batches += batches.take();
    total.failed_batches += failed_batches.take();
    total.requests += requests.take();
    total.failed_requests += failed_requests.take();
    for (std::size_t i = 0; i < flush_reason_count; ++i) total.flushes_by_reason[i] += flushes[i].take();
    for (std::size_t i = 0; i < rejection_slot_count; ++i) total.rejections_by_reason[i] += rejections[i].take();
    total.dispatcher_runs += dispatcher_runs.take();
    total.thread_wakeups += thread_wakeups.take();
  }
};

inline std::uint64_t nanoseconds_between(time_point from, time_point to) noexcept {
  if (to <= from) return 0;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

}  // namespace detail

template <std::size_t Stripes = 2>
class basic_recorder {
  static_assert(Stripes >= 1, "metrics::basic_recorder needs at least one stripe");

 public:
  static constexpr std::size_t stripes = Stripes;

  basic_recorder() : buffers_(std::make_unique<detail::recorder_buffer[]>(2 * Stripes)) {}
  basic_recorder(const basic_recorder&) = delete;
  basic_recorder& operator=(const basic_recorder&) = delete;

  // ---- Observer hooks (any thread, concurrently) -------------------------------------------------------------------

  void on_batch(const batch_record& batch) noexcept {
    stripe& s = this_thread_stripe();
    const writer_reader_phaser::ticket t = s.phaser.enter();
    detail::recorder_buffer& b = buffer(s, t);
    b.batches.add(1);
    b.requests.add(batch.size);
    if (batch.failed) {
      b.failed_batches.add(1);
      b.failed_requests.add(batch.size);
    }
    b.flushes[static_cast<std::size_t>(batch.reason) % flush_reason_count].add(1);
    b.batch_size.record(batch.size);
    b.backend_time.record(detail::nanoseconds_between(batch.started_at, batch.finished_at));
    if (!batch.arrivals.empty()) {
      summary queued, latency;
      for (const time_point arrival : batch.arrivals) {
        const std::uint64_t q = detail::nanoseconds_between(arrival, batch.dispatched_at);
        const std::uint64_t l = detail::nanoseconds_between(arrival, batch.finished_at);
        b.queue_time.count(q);
        b.latency.count(l);
        queued.add(q);
        latency.add(l);
      }
      b.queue_time.summarise(queued.sum, queued.min, queued.max);
      b.latency.summarise(latency.sum, latency.min, latency.max);
    }
    s.phaser.exit(t);
  }

  void on_rejected(errc reason, std::size_t n) noexcept {
    stripe& s = this_thread_stripe();
    const writer_reader_phaser::ticket t = s.phaser.enter();
    buffer(s, t).rejections[rejection_slot(reason)].add(n);
    s.phaser.exit(t);
  }

  void on_dispatcher_wakeup(bool thread_slept) noexcept {
    stripe& s = this_thread_stripe();
    const writer_reader_phaser::ticket t = s.phaser.enter();
    detail::recorder_buffer& b = buffer(s, t);
    b.dispatcher_runs.add(1);
    if (thread_slept) b.thread_wakeups.add(1);
    s.phaser.exit(t);
  }

  // ---- Reading (any thread; readers take turns) ----------------------------------------------------------------

  // Everything counted since construction or the last reset(), each hook call entirely or not at all.
  metrics_snapshot snapshot() {
    std::lock_guard lock(reader_mutex_);
    collect();
    return totals_;
  }

  // Starts counting from zero; returns what was counted before, as snapshot() would have.
  metrics_snapshot reset() {
    std::lock_guard lock(reader_mutex_);
    collect();
    metrics_snapshot before = std::move(totals_);
    totals_ = metrics_snapshot{};
    return before;
  }

 private:
  struct stripe {
    writer_reader_phaser phaser;
  };

  struct summary {
    std::uint64_t sum = 0;
    std::uint64_t min = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max = 0;
    void add(std::uint64_t v) noexcept {
      sum += v;
      min = std::min(min, v);
      max = std::max(max, v);
    }
  };

  stripe& this_thread_stripe() noexcept { return stripes_[detail::this_thread_number() % Stripes]; }

  detail::recorder_buffer& buffer(const stripe& s, writer_reader_phaser::ticket t) noexcept {
    const auto index = static_cast<std::size_t>(&s - stripes_.data());
    return buffers_[2 * index + t.buffer()];
  }

  // Reader, under reader_mutex_: folds every stripe's current buffer into the totals.
  void collect() {
    for (std::size_t i = 0; i < Stripes; ++i) {
      const std::size_t quiescent = stripes_[i].phaser.flip();
      buffers_[2 * i + quiescent].drain_into(totals_);
    }
  }

  std::array<stripe, Stripes> stripes_;
  std::unique_ptr<detail::recorder_buffer[]> buffers_;
  std::mutex reader_mutex_;
  metrics_snapshot totals_;
};

// Two stripes: enough for a dispatcher plus one compute executor; use basic_recorder<N> for N compute threads.
using recorder = basic_recorder<>;

}  // namespace metrics
POWERBATCH_END_NAMESPACE
