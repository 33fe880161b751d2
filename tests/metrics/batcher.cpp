// metrics::recorder as a real Batcher's Observer, on the manual clock: its snapshot agrees with batcher.stats() for
// every count, its durations are the ones the clock says; and no_observer adds no state to a batcher.
#include "test_support.hpp"

#include <powerbatch/metrics/prometheus.hpp>
#include <powerbatch/metrics/recorder.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace pbtest;
namespace pm = powerbatch::metrics;

namespace {

using metered_batcher = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::strict_levels<3>,
                                    recording_backend, pb::manual_clock, pm::recorder>;

std::uint64_t ns(pb::duration d) { return static_cast<std::uint64_t>(std::chrono::nanoseconds(d).count()); }

// Batches of sizes in [lowest, highest], from the recorder's histogram (exact below 128).
std::uint64_t batches_between(const pm::histogram_snapshot& h, std::uint64_t lowest, std::uint64_t highest) {
  return h.count_at_or_below(highest) - (lowest == 0 ? 0 : h.count_at_or_below(lowest - 1));
}

void check_agrees_with_stats(const pm::metrics_snapshot& m, const pb::batcher_stats& s) {
  CHECK(m.batches == s.batches);
  CHECK(m.requests == s.batched_requests);
  CHECK(m.completed() == s.completed);
  CHECK(m.failed_requests == s.backend_failed);
  for (std::size_t i = 0; i < pb::flush_reason_count; ++i) {
    INFO("flush reason " << pb::to_string(static_cast<pb::flush_reason>(i)));
    CHECK(m.flushes_by_reason[i] == s.flushes_by_reason[i]);
  }
  CHECK(m.rejections(pb::errc::queue_full) == s.queue_full);
  CHECK(m.rejections(pb::errc::deadline_expired) == s.deadline_expired);
  CHECK(m.rejections(pb::errc::cancelled) == s.cancelled);
  CHECK(m.rejections(pb::errc::shutting_down) == s.shutting_down);
  CHECK(m.rejected() == s.rejected());
  CHECK(m.dispatcher_runs == s.dispatcher_wakeups);
  CHECK(m.thread_wakeups == s.thread_wakeups);
  CHECK(m.backend_time.sum == ns(s.busy_time));
  for (std::size_t b = 0; b < pb::batch_size_buckets - 1; ++b) {
    INFO("batch-size bucket " << b);
    CHECK(batches_between(m.batch_size, std::uint64_t{1} << b, (std::uint64_t{2} << b) - 1) == s.batch_size_histogram[b]);
  }
}

}  // namespace

TEST_CASE("Through a real Batcher the recorder's snapshot matches batcher.stats() and the clock", "[recorder][batcher]") {
  manual_loop loop;
  recording_backend backend;
  bool fail_next = false;
  backend.log->on_batch = [&](const std::vector<int>&) {
    pb::manual_clock::advance(3ms);  // every batch takes 3 ms of backend time
    if (std::exchange(fail_next, false)) throw std::runtime_error("backend down");
  };
  metered_batcher::config cfg;
  cfg.timeout.max_batch_size = 4;
  cfg.timeout.max_delay = 10ms;
  cfg.queue_capacity = 6;
  metered_batcher b(loop.context.get_executor(), backend, cfg);
  const pb::time_point t0 = pb::manual_clock::now();

  // A full batch at once: queue time 0, latency 3 ms each.
  for (int id = 1; id <= 4; ++id) b.async_submit(item{id}, {}, loop.recorder(id));
  loop.settle();
  // Two that leave by delay, 10 ms after the first; the second arrived 4 ms later.
  b.async_submit(item{5}, {}, loop.recorder(5));
  loop.advance(4ms);
  b.async_submit(item{6}, {}, loop.recorder(6));
  loop.advance(6ms);
  // An urgent one, in a batch that fails.
  fail_next = true;
  b.async_submit(item{7}, pb::request_options{}.with_priority(pb::priority_levels::high), loop.recorder(7));
  loop.settle();
  // Rejections: already past its deadline; more than the queue holds.
  b.async_submit(item{8}, pb::request_options{}.with_deadline(pb::manual_clock::now() - 1ms), loop.recorder(8));
  for (int id = 20; id < 27; ++id) b.async_submit(item{id}, pb::request_options{}.with_key(9), loop.recorder(id));
  loop.settle();  // six were admitted (the seventh: queue_full); four leave by size, two wait
  // Shutdown drains what waits; one submitted after it is refused.
  b.async_shutdown(pb::shutdown_mode::drain, [] {});
  b.async_submit(item{30}, {}, loop.recorder(30));
  loop.settle();
  loop.advance(20ms);

  const pb::batcher_stats s = b.stats();
  const pm::metrics_snapshot m = b.observer().snapshot();
  REQUIRE(s.finished() == s.submitted);
  CHECK(s.batches >= 5);
  CHECK(s.backend_failed == 1);
  CHECK(s.deadline_expired == 1);
  CHECK(s.shutting_down >= 1);
  CHECK(s.flushes(pb::flush_reason::delay) >= 1);
  check_agrees_with_stats(m, s);

  // Durations as the manual clock measured them.
  CHECK(m.backend_time.count == m.batches);
  CHECK(m.backend_time.min == ns(3ms));
  CHECK(m.backend_time.max == ns(3ms));
  CHECK(m.queue_time.min == 0);
  CHECK(m.queue_time.max >= ns(10ms));  // item 5 waited the whole window
  CHECK(m.latency.count == m.requests);
  CHECK(m.latency.min == ns(3ms));
  CHECK(m.latency.sum == m.queue_time.sum + m.requests * ns(3ms));  // latency = queue + backend, per request
  CHECK(m.latency.percentile(0.0) == 3e6);
  (void)t0;

  // The exposition reads the same numbers.
  const std::string text = pm::prometheus_text(m);
  CHECK(text.find("powerbatch_batches_total{reason=\"delay\"} " + std::to_string(s.flushes(pb::flush_reason::delay)) +
                  "\n") != std::string::npos);
  CHECK(text.find("powerbatch_rejected_requests_total{reason=\"queue_full\"} " + std::to_string(s.queue_full) + "\n") !=
        std::string::npos);
}

namespace {

// Observers with hooks and no state, and with state: what a batcher stores for each.
struct stateless_observer {
  void on_rejected(pb::errc, std::size_t) noexcept {}
};
struct stateful_observer {
  std::array<std::uint64_t, 16> counts{};
  void on_rejected(pb::errc e, std::size_t n) noexcept { counts[static_cast<std::size_t>(e) % 16] += n; }
};

template <class Observer>
using core_with = pb::detail::batcher_core<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo,
                                           recording_backend, pb::manual_clock, Observer>;
template <class Observer>
using batcher_with = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo,
                                 recording_backend, pb::manual_clock, Observer>;

}  // namespace

TEST_CASE("A batcher built without metrics stores nothing for them", "[recorder][batcher]") {
  // no_observer is empty and has no hook, so every `if constexpr (observes_...)` in the core compiles to nothing.
  STATIC_REQUIRE(std::is_empty_v<pb::no_observer>);
  STATIC_REQUIRE_FALSE(pb::observes_batches<pb::no_observer>);
  STATIC_REQUIRE_FALSE(pb::observes_rejections<pb::no_observer>);
  STATIC_REQUIRE_FALSE(pb::observes_wakeups<pb::no_observer>);
  // The observer member is [[no_unique_address]]: an empty observer adds no byte to the batcher's state ...
  STATIC_REQUIRE(sizeof(core_with<pb::no_observer>) == sizeof(core_with<stateless_observer>));
  // ... while one with state does (so the comparison above can fail).
  STATIC_REQUIRE(sizeof(core_with<stateful_observer>) > sizeof(core_with<pb::no_observer>));
  // The handle users hold is the same size whatever the observer.
  STATIC_REQUIRE(sizeof(batcher_with<pb::no_observer>) == sizeof(batcher_with<pm::recorder>));
  // The recorder keeps its histogram buffers on the heap: it adds about a KiB to the batcher's state, not 230 KiB.
  STATIC_REQUIRE(sizeof(pm::recorder) <= 1024);
  STATIC_REQUIRE(pb::observes_batches<pm::recorder> && pb::observes_rejections<pm::recorder> &&
                 pb::observes_wakeups<pm::recorder>);
}
