// metrics::metrics_snapshot — everything a metrics::recorder counted, as one plain value: the four histograms,
// batches by flush reason, requests rejected by reason, dispatcher runs and thread wake-ups.
//
// Durations are in nanoseconds (histogram values are integers); the exposition formats convert to seconds.
// Definitions, per request of a batch: queue time = dispatched_at - arrival; end-to-end latency = finished_at -
// arrival (the backend call's end, just before the request's completion is posted); per batch: backend time =
// finished_at - started_at.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/error.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/request_options.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

// Why requests finished without reaching the backend, in the order the exposition lists them; any other error code
// a batcher reports is counted as `other`.
inline constexpr std::array<errc, 5> rejection_reasons = {errc::queue_full, errc::deadline_expired, errc::cancelled,
                                                          errc::shutting_down, errc::invalid_argument};
inline constexpr std::size_t rejection_slot_count = rejection_reasons.size() + 1;  // + other

constexpr std::size_t rejection_slot(errc reason) noexcept {
  for (std::size_t i = 0; i < rejection_reasons.size(); ++i)
    if (rejection_reasons[i] == reason) return i;
  return rejection_reasons.size();
}

// The label the exposition formats use for a rejection slot ("queue_full", ..., "other").
constexpr const char* rejection_label(std::size_t slot) noexcept {
  constexpr const char* labels[rejection_slot_count] = {"queue_full", "deadline_expired", "cancelled",
                                                        "shutting_down", "invalid_argument", "other"};
  return slot < rejection_slot_count ? labels[slot] : "other";
}

struct metrics_snapshot {
  histogram_snapshot queue_time;    // ns, one value per request that reached the backend
  histogram_snapshot backend_time;  // ns, one value per batch
  histogram_snapshot latency;       // ns, end to end, one value per request that reached the backend
  histogram_snapshot batch_size;    // requests, one value per batch

  std::uint64_t batches = 0;
  std::uint64_t failed_batches = 0;   // the backend threw
  std::uint64_t requests = 0;         // requests that reached the backend
  std::uint64_t failed_requests = 0;  // of those, requests of failed batches (errc::backend_failed)
  std::array<std::uint64_t, flush_reason_count> flushes_by_reason{};
  std::array<std::uint64_t, rejection_slot_count> rejections_by_reason{};

  std::uint64_t dispatcher_runs = 0;  // every dispatcher run (posted wake-ups and timer expiries)
  std::uint64_t thread_wakeups = 0;   // of those, runs whose thread had slept: the wake-ups that cost energy

  std::uint64_t completed() const noexcept { return requests - failed_requests; }
  std::uint64_t flushes(flush_reason reason) const noexcept {
    return flushes_by_reason[static_cast<std::size_t>(reason)];
  }
  std::uint64_t rejections(errc reason) const noexcept { return rejections_by_reason[rejection_slot(reason)]; }
  std::uint64_t rejected() const noexcept {
    std::uint64_t n = 0;
    for (std::uint64_t r : rejections_by_reason) n += r;
    return n;
  }
  double mean_batch_size() const noexcept {
    return batches == 0 ? 0.0 : static_cast<double>(requests) / static_cast<double>(batches);
  }
  // Thread wake-ups per request that reached the backend (0 when none did).
  double wakeups_per_request() const noexcept {
    return requests == 0 ? 0.0 : static_cast<double>(thread_wakeups) / static_cast<double>(requests);
  }

  // Adds another snapshot's counts (the policy lab merges repeated runs of one policy set).
  void merge(const metrics_snapshot& other) {
    queue_time.merge(other.queue_time);
    backend_time.merge(other.backend_time);
    latency.merge(other.latency);
    batch_size.merge(other.batch_size);
    batches += other.batches;
    failed_batches += other.failed_batches;
    requests += other.requests;
    failed_requests += other.failed_requests;
    for (std::size_t i = 0; i < flush_reason_count; ++i) flushes_by_reason[i] += other.flushes_by_reason[i];
    for (std::size_t i = 0; i < rejection_slot_count; ++i) rejections_by_reason[i] += other.rejections_by_reason[i];
    dispatcher_runs += other.dispatcher_runs;
    thread_wakeups += other.thread_wakeups;
  }
};

}  // namespace metrics
POWERBATCH_END_NAMESPACE
