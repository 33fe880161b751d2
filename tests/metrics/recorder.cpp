// metrics/recorder.hpp: what each hook counts, and that snapshots taken while several threads record are
// consistent: every batch is counted entirely (its requests, histograms, flush reason and size together) or not yet.
#include <powerbatch/metrics/recorder.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace pm = powerbatch::metrics;
namespace pb = powerbatch;
using namespace std::chrono_literals;

namespace {

std::uint64_t ns(std::chrono::nanoseconds d) { return static_cast<std::uint64_t>(d.count()); }

pb::batch_record make_batch(std::span<const pb::time_point> arrivals, pb::flush_reason reason, pb::time_point dispatched,
                            pb::time_point started, pb::time_point finished, bool failed = false) {
  return pb::batch_record{0, arrivals.size(), reason, failed, dispatched, started, finished, arrivals};
}

}  // namespace

TEST_CASE("The recorder counts queue, backend and end-to-end time, sizes, reasons, rejections and wake-ups",
          "[recorder]") {
  pm::recorder r;
  const pb::time_point t0 = pb::time_point{} + 1h;
  const std::vector<pb::time_point> arrivals{t0, t0 + 1ms, t0 + 3ms};
  // Dispatched at t0 + 4 ms, backend from t0 + 5 ms to t0 + 9 ms.
  r.on_batch(make_batch(arrivals, pb::flush_reason::delay, t0 + 4ms, t0 + 5ms, t0 + 9ms));
  const std::vector<pb::time_point> single{t0 + 10ms};
  r.on_batch(make_batch(single, pb::flush_reason::priority, t0 + 10ms, t0 + 10ms, t0 + 12ms, true));
  r.on_rejected(pb::errc::queue_full, 3);
  r.on_rejected(pb::errc::deadline_expired, 1);
  r.on_rejected(pb::errc::shutting_down, 2);
  r.on_rejected(pb::errc::invalid_argument, 4);
  r.on_rejected(pb::errc::pool_exhausted, 1);  // not one of the named reasons: counted as other
  r.on_dispatcher_wakeup(true);
  r.on_dispatcher_wakeup(false);
  r.on_dispatcher_wakeup(true);

  const pm::metrics_snapshot s = r.snapshot();
  CHECK(s.batches == 2);
  CHECK(s.requests == 4);
  CHECK(s.failed_batches == 1);
  CHECK(s.failed_requests == 1);
  CHECK(s.completed() == 3);
  CHECK(s.flushes(pb::flush_reason::delay) == 1);
  CHECK(s.flushes(pb::flush_reason::priority) == 1);
  CHECK(s.flushes(pb::flush_reason::size) == 0);
  CHECK(s.rejections(pb::errc::queue_full) == 3);
  CHECK(s.rejections(pb::errc::deadline_expired) == 1);
  CHECK(s.rejections(pb::errc::cancelled) == 0);
  CHECK(s.rejections(pb::errc::shutting_down) == 2);
  CHECK(s.rejections(pb::errc::invalid_argument) == 4);
  CHECK(s.rejections_by_reason[pm::rejection_slot_count - 1] == 1);
  CHECK(s.rejected() == 11);
  CHECK(s.dispatcher_runs == 3);
  CHECK(s.thread_wakeups == 2);
  CHECK(s.wakeups_per_request() == Approx(0.5));
  CHECK(s.mean_batch_size() == Approx(2.0));

  // Queue time: 4, 3, 1 ms and 0; latency: 9, 8, 6 ms and 2 ms; backend: 4 ms and 2 ms.
  CHECK(s.queue_time.count == 4);
  CHECK(s.queue_time.sum == ns(8ms));
  CHECK(s.queue_time.min == 0);
  CHECK(s.queue_time.max == ns(4ms));
  CHECK(s.latency.sum == ns(25ms));
  CHECK(s.latency.min == ns(2ms));
  CHECK(s.latency.max == ns(9ms));
  CHECK(s.latency.percentile(0.5) == Approx(6e6).epsilon(0.01));
  CHECK(s.backend_time.count == 2);
  CHECK(s.backend_time.sum == ns(6ms));
  CHECK(s.batch_size.count == 2);
  CHECK(s.batch_size.sum == 4);
  CHECK(s.batch_size.max == 3);

  // Snapshots are cumulative; reset() hands back the totals and starts again.
  r.on_dispatcher_wakeup(true);
  CHECK(r.snapshot().dispatcher_runs == 4);
  const pm::metrics_snapshot before = r.reset();
  CHECK(before.dispatcher_runs == 4);
  CHECK(before.batches == 2);
  const pm::metrics_snapshot after = r.snapshot();
  CHECK(after.dispatcher_runs == 0);
  CHECK(after.batches == 0);
  CHECK(after.latency.empty());
}

TEST_CASE("Snapshots taken while four threads record are consistent, and the final one is exact", "[recorder]") {
  pm::basic_recorder<4> r;
  constexpr int threads = 4;
  constexpr int batches_per_thread = 4000;  // large batches: a long time inside each on_batch
  std::atomic<bool> go{false};
  std::atomic<int> done{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([&, t] {
      std::vector<pb::time_point> arrivals;
      const pb::time_point t0 = pb::time_point{} + 1h;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < batches_per_thread; ++i) {
        const std::size_t size = 1 + static_cast<std::size_t>((i * 7 + t) % 512);
        arrivals.assign(size, t0);
        r.on_batch(make_batch(arrivals, static_cast<pb::flush_reason>(i % 6), t0 + 1ms, t0 + 1ms, t0 + 2ms));
        if (i % 10 == 0) r.on_rejected(pb::errc::cancelled, 2);
        r.on_dispatcher_wakeup(i % 2 == 0);
      }
      done.fetch_add(1);
    });
  go.store(true);
  int snapshots = 0;
  while (done.load() < threads) {
    const pm::metrics_snapshot s = r.snapshot();
    ++snapshots;
    // Each batch is in a snapshot entirely or not at all, so these agree exactly even mid-flight.
    REQUIRE(s.queue_time.count == s.requests);
    REQUIRE(s.latency.count == s.requests);
    REQUIRE(s.batch_size.count == s.batches);
    REQUIRE(s.batch_size.sum == s.requests);
    REQUIRE(s.backend_time.count == s.batches);
    std::uint64_t flushed = 0;
    for (const auto f : s.flushes_by_reason) flushed += f;
    REQUIRE(flushed == s.batches);
    std::uint64_t in_buckets = 0;
    for (const auto c : s.latency.buckets) in_buckets += c;
    REQUIRE(in_buckets == s.latency.count);
  }
  for (auto& w : writers) w.join();

  const pm::metrics_snapshot s = r.snapshot();
  std::uint64_t requests = 0;
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < batches_per_thread; ++i) requests += 1 + static_cast<std::uint64_t>((i * 7 + t) % 512);
  CHECK(s.batches == std::uint64_t{threads} * batches_per_thread);
  CHECK(s.requests == requests);
  CHECK(s.latency.count == requests);
  CHECK(s.latency.min == ns(2ms));
  CHECK(s.latency.max == ns(2ms));
  CHECK(s.queue_time.sum == requests * ns(1ms));
  CHECK(s.rejections(pb::errc::cancelled) == std::uint64_t{threads} * (batches_per_thread / 10) * 2);
  CHECK(s.dispatcher_runs == std::uint64_t{threads} * batches_per_thread);
  CHECK(s.thread_wakeups == std::uint64_t{threads} * batches_per_thread / 2);
  WARN("snapshots taken while recording: " << snapshots);
}
