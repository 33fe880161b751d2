// The batcher's hooks for observers (metrics, the lab) and for power policies: what an Observer is told, what a
// Timeout policy sees of batches in flight and deferrable requests, waiting for a running batch, and the wake-up and
// busy-time accounting.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <map>
#include <thread>

using namespace pbtest;

namespace {

struct watching_observer {
  std::vector<pb::batch_record> batches;
  std::vector<std::vector<pb::time_point>> arrivals;
  std::map<pb::errc, std::size_t> rejected;
  std::size_t runs = 0, slept_runs = 0;

  void on_batch(const pb::batch_record& r) {
    batches.push_back(r);
    arrivals.emplace_back(r.arrivals.begin(), r.arrivals.end());
    batches.back().arrivals = {};  // not valid after the call
  }
  void on_rejected(pb::errc e, std::size_t n) { rejected[e] += n; }
  void on_dispatcher_wakeup(bool slept) {
    ++runs;
    slept_runs += slept;
  }
};

// Records what decide() was shown; flushes everything once `flush_at` requests wait, unless told to wait for a batch.
struct peeking_policy {
  struct params {
    std::shared_ptr<std::vector<pb::lane_view>> seen = std::make_shared<std::vector<pb::lane_view>>();
    std::size_t flush_at = 2;
    std::size_t max_in_flight = 1000;
  };
  struct state {
    params p;
    explicit state(const params& ps) : p(ps) {}
    pb::decision decide(const pb::lane_view& v) {
      p.seen->push_back(v);
      if (v.in_flight >= p.max_in_flight) return pb::decision::wait_for_batch();
      if (v.pending >= p.flush_at || v.now == pb::time_point::max())
        return pb::decision::flush(std::min(v.pending, p.flush_at), pb::flush_reason::size);
      return pb::decision::wait(pb::time_point::max(), p.flush_at);
    }
  };
};

using observed_batcher = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo,
                                     recording_backend, pb::manual_clock, watching_observer>;
using peeking_batcher =
    pb::Batcher<pb::queue::mutex_deque, peeking_policy, pb::priority::strict_levels<3>, recording_backend,
                pb::manual_clock>;

}  // namespace

TEST_CASE("no_observer adds no state and no hooks", "[hooks]") {
  STATIC_REQUIRE(std::is_empty_v<pb::no_observer>);
  STATIC_REQUIRE_FALSE(pb::observes_batches<pb::no_observer>);
  STATIC_REQUIRE_FALSE(pb::observes_rejections<pb::no_observer>);
  STATIC_REQUIRE_FALSE(pb::observes_wakeups<pb::no_observer>);
  STATIC_REQUIRE(pb::batch_observer<watching_observer>);
  STATIC_REQUIRE_FALSE(pb::batch_observer<int>);
}

TEST_CASE("An observer sees each batch with its arrivals, every rejection and every dispatcher run", "[hooks]") {
  manual_loop loop;
  observed_batcher::config cfg;
  cfg.timeout.max_batch_size = 3;
  cfg.timeout.max_delay = 10ms;
  cfg.queue_capacity = 4;
  observed_batcher b(loop.context.get_executor(), recording_backend{}, cfg);

  const pb::time_point t0 = pb::manual_clock::now();
  b.async_submit(item{1}, pb::request_options{}.with_key(7), loop.recorder(1));
  loop.advance(2ms);
  b.async_submit(item{2}, pb::request_options{}.with_key(7), loop.recorder(2));
  b.async_submit(item{3}, pb::request_options{}.with_key(7), loop.recorder(3));
  loop.settle();
  REQUIRE(b.observer().batches.size() == 1);
  const pb::batch_record& r = b.observer().batches[0];
  CHECK(r.key == 7);
  CHECK(r.size == 3);
  CHECK(r.reason == pb::flush_reason::size);
  CHECK_FALSE(r.failed);
  CHECK(r.dispatched_at == t0 + 2ms);
  CHECK(r.started_at <= r.finished_at);
  CHECK(b.observer().arrivals[0] == std::vector<pb::time_point>{t0, t0 + 2ms, t0 + 2ms});

  // Rejections: an expired deadline at submit, a full queue.
  b.async_submit(item{4}, pb::request_options{}.with_deadline(pb::manual_clock::now() - 1ms), loop.recorder(4));
  for (int id = 10; id < 15; ++id) b.async_submit(item{id}, {}, loop.recorder(id));
  loop.settle();
  CHECK(b.observer().rejected[pb::errc::deadline_expired] == 1);
  CHECK(b.observer().rejected[pb::errc::queue_full] == 1);  // capacity 4: the fifth waits in vain
  loop.advance(10ms);
  CHECK(b.stats().finished() == 9);
  CHECK(b.observer().runs == b.stats().dispatcher_wakeups);
  CHECK(b.observer().slept_runs == b.stats().thread_wakeups);
}

TEST_CASE("A failed batch is reported as failed", "[hooks]") {
  manual_loop loop;
  recording_backend backend;
  backend.log->on_batch = [](const std::vector<int>&) { throw std::runtime_error("boom"); };
  observed_batcher::config cfg;
  cfg.timeout.max_batch_size = 1;
  observed_batcher b(loop.context.get_executor(), backend, cfg);
  b.async_submit(item{1}, {}, loop.recorder(1));
  loop.settle();
  REQUIRE(b.observer().batches.size() == 1);
  CHECK(b.observer().batches[0].failed);
}

TEST_CASE("A Timeout policy sees the batches in flight and the deferrable requests of its lane", "[hooks]") {
  manual_loop loop;
  asio::io_context compute;  // batches stay in flight until this is polled
  peeking_batcher::config cfg;
  cfg.high_priority_flushes = false;
  auto seen = cfg.timeout.seen;
  cfg.timeout.flush_at = 3;
  peeking_batcher b(loop.context.get_executor(), compute.get_executor(), recording_backend{}, cfg);

  b.async_submit(item{1}, pb::request_options{}.with_priority(pb::priority_levels::low), loop.recorder(1));
  b.async_submit(item{2}, pb::request_options{}.with_priority(pb::priority_levels::normal), loop.recorder(2));
  loop.settle();
  REQUIRE_FALSE(seen->empty());
  CHECK(seen->back().pending == 2);
  CHECK(seen->back().pending_deferrable == 1);
  CHECK(seen->back().in_flight == 0);
  b.async_submit(item{3}, pb::request_options{}.with_priority(pb::priority_levels::low), loop.recorder(3));
  loop.settle();  // flushes the three: one batch in flight
  b.async_submit(item{4}, pb::request_options{}.with_priority(pb::priority_levels::low), loop.recorder(4));
  loop.settle();
  CHECK(seen->back().in_flight == 1);
  CHECK(seen->back().pending == 1);
  CHECK(seen->back().pending_deferrable == 1);
  compute.poll();
  loop.settle();
  CHECK(loop.results.size() == 3);
}

TEST_CASE("decision::wait_for_batch holds a lane until a running batch finishes, with no timer", "[hooks]") {
  manual_loop loop;
  asio::io_context compute;
  peeking_batcher::config cfg;
  cfg.max_in_flight = 4;
  cfg.timeout.flush_at = 2;
  cfg.timeout.max_in_flight = 1;  // the policy allows one batch at a time
  peeking_batcher b(loop.context.get_executor(), compute.get_executor(), recording_backend{}, cfg);
  recording_backend& backend = b.backend();

  for (int id = 1; id <= 4; ++id) b.async_submit(item{id}, {}, loop.recorder(id));
  loop.settle();
  CHECK(b.stats().in_flight == 1);  // two requests still wait although the batcher has free slots
  CHECK(b.stats().timers_armed == 0);
  CHECK(b.stats().pending == 2);

  compute.restart();
  compute.run_one();  // the first batch runs; its delivery wakes the dispatcher
  loop.settle();
  CHECK(backend.log->batch_count() == 1);
  CHECK(b.stats().batches == 2);
  compute.restart();
  compute.poll();
  loop.settle();
  CHECK(backend.log->snapshot() == std::vector<std::vector<int>>{{1, 2}, {3, 4}});
  CHECK(loop.results.size() == 4);
  CHECK(b.stats().completed == 4);
}

TEST_CASE("Busy time and thread wake-ups are accounted on a real thread", "[hooks]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  struct sleepy_backend {
    using input_type = int;
    using output_type = int;
    void run(std::span<int> in, std::span<int> out) {
      std::this_thread::sleep_for(2ms);
      for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i];
    }
  };
  pb::Batcher<pb::queue::moodycamel, pb::timeout::size_or_delay, pb::priority::fifo, sleepy_backend> b(
      io.get_executor(), sleepy_backend{}, {.timeout = {.max_batch_size = 100, .max_delay = 5ms}});
  for (int round = 0; round < 3; ++round) {
    auto f = b.async_submit(round, {}, asio::use_future);
    CHECK(std::get<1>(f.get()) == round);
  }
  b.shutdown();
  const pb::batcher_stats s = b.stats();
  CHECK(s.busy_time >= 3 * 2ms);
  CHECK(s.thread_wakeups >= 3);  // each delay-flush follows a sleep of the io_context thread
  CHECK(s.thread_wakeups <= s.dispatcher_wakeups);
  CHECK(s.wakeups_per_request() > 0.0);
  guard.reset();
  runner.join();
}
