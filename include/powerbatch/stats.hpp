// The batcher's basic counters: written with relaxed atomics where they happen (never one shared write per
// request on the submit path), read as a snapshot from any thread. The metrics layer builds on these.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/request_options.hpp>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE

// Batch sizes are counted in power-of-two buckets: bucket i holds sizes in [2^i, 2^(i+1)).
inline constexpr std::size_t batch_size_buckets = 17;

inline constexpr std::size_t batch_size_bucket(std::size_t size) noexcept {
  const std::size_t b = size == 0 ? 0 : static_cast<std::size_t>(std::bit_width(size)) - 1;
  return b < batch_size_buckets ? b : batch_size_buckets - 1;
}

struct batcher_stats {
  // Every submitted request ends in exactly one of completed, backend_failed, queue_full, deadline_expired,
  // cancelled, shutting_down or invalid_input; `pending` counts those that have not yet.
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t backend_failed = 0;
  std::uint64_t queue_full = 0;
  std::uint64_t deadline_expired = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t shutting_down = 0;
  std::uint64_t invalid_input = 0;  // refused by the backend's accepts() at submission (errc::invalid_argument)

  std::uint64_t batches = 0;
  std::uint64_t batched_requests = 0;  // requests that reached the backend
  std::array<std::uint64_t, flush_reason_count> flushes_by_reason{};
  std::array<std::uint64_t, batch_size_buckets> batch_size_histogram{};

  std::uint64_t dispatcher_wakeups = 0;  // dispatcher runs: posted wake-ups plus timer expiries
  std::uint64_t thread_wakeups = 0;      // of those, runs whose thread had slept since its last dispatcher work
                                         // (voluntary context switches, Linux); elsewhere every run
  std::uint64_t wakeups_posted = 0;      // of those, wake-ups posted by producers or batch completions
  std::uint64_t timer_fires = 0;
  std::uint64_t timers_armed = 0;

  std::chrono::nanoseconds busy_time{};  // time spent in the backend, all batches together
  std::uint64_t busy_waits = 0;               // timed decisions waited for busily (timer_lead or the learned one)
  std::chrono::nanoseconds busy_wait_time{};  // the dispatcher's thread spent that long awake in them
  std::chrono::nanoseconds timer_lead{};      // how early the timer fires now (config timer_lead, or learned)
  std::uint64_t in_flight = 0;           // batches running now
  std::uint64_t pending = 0;             // admitted requests not yet dispatched or finished
  bool grouped_admission = false;        // admits by per-group credits (admission_mode::grouped, where trusted)

  std::uint64_t rejected() const noexcept {
    return queue_full + deadline_expired + cancelled + shutting_down + invalid_input;
  }
  std::uint64_t finished() const noexcept { return completed + backend_failed + rejected(); }
  double mean_batch_size() const noexcept {
    return batches == 0 ? 0.0 : static_cast<double>(batched_requests) / static_cast<double>(batches);
  }
  // Seed 000's "wake cycles saved": requests served minus the wake-ups they cost (0 if more wake-ups than requests).
  std::uint64_t wake_cycles_saved() const noexcept {
    const std::uint64_t served = completed + backend_failed;
    return served > thread_wakeups ? served - thread_wakeups : 0;
  }
  double wakeups_per_request() const noexcept {
    const std::uint64_t served = completed + backend_failed;
    return served == 0 ? 0.0 : static_cast<double>(thread_wakeups) / static_cast<double>(served);
  }
  std::uint64_t flushes(flush_reason r) const noexcept { return flushes_by_reason[static_cast<std::size_t>(r)]; }
};

namespace detail {

// A counter written by one thread at a time or rarely: a relaxed add, readable anywhere.
struct counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) noexcept { value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t load() const noexcept { return value.load(std::memory_order_relaxed); }
};

struct batcher_counters {
  counter accepted;            // admitted requests, counted by the dispatcher as it drains the queue
  counter rejected_at_submit;  // refused before admission (queue full, shutting down, already expired)
  counter completed, backend_failed, queue_full, deadline_expired, cancelled, shutting_down, invalid_input;
  counter batches, batched_requests;
  std::array<counter, flush_reason_count> flushes;
  std::array<counter, batch_size_buckets> sizes;
  counter dispatcher_wakeups, thread_wakeups, wakeups_posted, timer_fires, timers_armed;
  counter busy_ns, busy_waits, busy_wait_ns;
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> timer_lead_ns{0};  // the dispatcher's timer_lead(), updated as it learns

  void record_batch(std::size_t size, flush_reason reason) noexcept {
    batches.add();
    batched_requests.add(size);
    flushes[static_cast<std::size_t>(reason)].add();
    sizes[batch_size_bucket(size)].add();
  }

  batcher_stats snapshot(std::uint64_t pending) const noexcept {
    batcher_stats s;
    s.completed = completed.load();
    s.backend_failed = backend_failed.load();
    s.queue_full = queue_full.load();
    s.deadline_expired = deadline_expired.load();
    s.cancelled = cancelled.load();
    s.shutting_down = shutting_down.load();
    s.invalid_input = invalid_input.load();
    s.batches = batches.load();
    s.batched_requests = batched_requests.load();
    for (std::size_t i = 0; i < flush_reason_count; ++i) s.flushes_by_reason[i] = flushes[i].load();
    for (std::size_t i = 0; i < batch_size_buckets; ++i) s.batch_size_histogram[i] = sizes[i].load();
    s.dispatcher_wakeups = dispatcher_wakeups.load();
    s.thread_wakeups = thread_wakeups.load();
    s.busy_time = std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(busy_ns.load()));
    s.wakeups_posted = wakeups_posted.load();
    s.timer_fires = timer_fires.load();
    s.timers_armed = timers_armed.load();
    s.busy_waits = busy_waits.load();
    s.busy_wait_time = std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(busy_wait_ns.load()));
    s.timer_lead = std::chrono::nanoseconds(timer_lead_ns.load(std::memory_order_relaxed));
    const auto running = in_flight.load(std::memory_order_relaxed);
    s.in_flight = running > 0 ? static_cast<std::uint64_t>(running) : 0;
    s.pending = pending;
    // A request counts as submitted once the dispatcher drained it, or when it was refused at submission.
    s.submitted = accepted.load() + rejected_at_submit.load();
    return s;
  }
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
