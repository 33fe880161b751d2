// Behaviour suite over the mutex+deque and single-producer queues.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

using namespace pbtest;

using other_combos = combos_over<pb::queue::mutex_deque, pb::queue::boost_spsc>;

#define BEHAVIOUR_TYPES other_combos
#define BEHAVIOUR_PREFIX "[mutex and spsc queues] "
#include "behaviour_suite.inc"

namespace {

// A queue policy that hands requests out newest first: every drained request starts a new run of arrival order,
// so the dispatcher must merge as many runs as requests (an odd count leaves a run unpaired in some rounds).
struct newest_first_queue {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity) { stack_.reserve(capacity); }
    bool try_push(T&& element) {
      std::lock_guard lock(mutex_);
      if (stack_.size() == stack_.capacity()) return false;
      stack_.push_back(std::move(element));
      return true;
    }
    bool try_pop(T& out) {
      std::lock_guard lock(mutex_);
      if (stack_.empty()) return false;
      out = std::move(stack_.back());
      stack_.pop_back();
      return true;
    }

   private:
    std::mutex mutex_;
    std::vector<T> stack_;
  };
};

// A queue policy that hands out the requests pushed at even positions, then those at odd ones: a drain is two
// interleaved runs, as two producers' rings give, which the dispatcher must merge by arrival.
struct evens_then_odds_queue {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity) { items_.reserve(capacity); }
    bool try_push(T&& element) {
      std::lock_guard lock(mutex_);
      if (items_.size() == items_.capacity()) return false;
      items_.push_back(std::move(element));
      return true;
    }
    bool try_pop(T& out) {
      std::lock_guard lock(mutex_);
      std::size_t& next = next_even_ < items_.size() ? next_even_ : next_odd_;
      if (next >= items_.size()) {  // all handed out: start over
        items_.clear();
        next_even_ = 0;
        next_odd_ = 1;
        return false;
      }
      out = std::move(items_[next]);
      next += 2;
      return true;
    }

   private:
    std::mutex mutex_;
    std::vector<T> items_;
    std::size_t next_even_ = 0, next_odd_ = 1;
  };
};

}  // namespace

TEMPLATE_TEST_CASE("requests drained out of order still reach the backend oldest first", "[ordering]",
                   newest_first_queue, evens_then_odds_queue) {
  using batcher_type =
      pb::Batcher<TestType, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend, pb::manual_clock>;
  for (int n : {1, 2, 3, 7, 8, 9, 16, 17, 100}) {
    CAPTURE(n);
    manual_loop loop;
    typename batcher_type::config cfg;
    cfg.timeout.max_batch_size = static_cast<std::size_t>(n);
    cfg.timeout.max_delay = 1h;
    recording_backend backend;
    batcher_type b(loop.context.get_executor(), backend, cfg);
    for (int id = 0; id < n; ++id) {
      b.async_submit(item{id}, loop.recorder(id));
      pb::manual_clock::advance(1us);  // strictly increasing arrivals
    }
    loop.settle();
    const auto batches = backend.log->snapshot();
    REQUIRE(batches.size() == 1);
    std::vector<int> oldest_first(static_cast<std::size_t>(n));
    for (int id = 0; id < n; ++id) oldest_first[static_cast<std::size_t>(id)] = id;
    CHECK(batches[0] == oldest_first);
    CHECK(loop.results.size() == static_cast<std::size_t>(n));
  }
}

TEMPLATE_TEST_CASE("arrival order is admission order, even where the arrival stamps disagree", "[ordering]",
                   pb::queue::mutex_deque, newest_first_queue, evens_then_odds_queue) {
  // Stamps from two CPUs' counters, or one taken just before another thread's admission, can run backwards by
  // nanoseconds. Here the clock runs backwards outright: the batch still keeps the order of submission, and each
  // request's time is moved up to the latest before it (late, never early).
  using batcher_type = pb::Batcher<TestType, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend,
                                   pb::manual_clock, arrival_observer>;
  constexpr int n = 9;
  manual_loop loop;
  typename batcher_type::config cfg;
  cfg.timeout.max_batch_size = n;
  cfg.timeout.max_delay = 1h;
  recording_backend backend;
  batcher_type b(loop.context.get_executor(), backend, cfg);
  const pb::time_point start = pb::manual_clock::now();
  std::vector<pb::time_point> expected_arrivals;
  for (int id = 0; id < n; ++id) {
    // Stamps 40, 30, 20, 10 µs, then forwards again: 50, 60, ...
    const auto stamp = start + (id < 4 ? std::chrono::microseconds(40 - 10 * id) : std::chrono::microseconds(10 * id));
    pb::manual_clock::set(stamp);
    b.async_submit(item{id}, loop.recorder(id));
    expected_arrivals.push_back(id < 4 ? start + 40us : stamp);
  }
  loop.settle();
  const auto batches = backend.log->snapshot();
  REQUIRE(batches.size() == 1);
  std::vector<int> submitted(n);
  for (int id = 0; id < n; ++id) submitted[static_cast<std::size_t>(id)] = id;
  CHECK(batches[0] == submitted);
  REQUIRE(b.observer().arrivals.size() == 1);
  CHECK(b.observer().arrivals[0] == expected_arrivals);
  CHECK(loop.results.size() == static_cast<std::size_t>(n));
}

TEST_CASE("urgent_priority chooses the levels that flush at once; high_priority_flushes = false turns it off",
          "[priority]") {
  using batcher_type = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::strict_levels<4>,
                                   recording_backend, pb::manual_clock>;
  struct scenario {
    bool flushes;
    pb::priority_level urgent;
    pb::priority_level submitted;
    bool expect_flush;
  };
  for (const scenario s : {scenario{true, pb::priority_levels::high, pb::priority_levels::high, true},
                           scenario{true, pb::priority_levels::high, pb::priority_levels::normal, false},
                           scenario{true, pb::priority_levels::normal, pb::priority_levels::normal, true},
                           scenario{true, pb::priority_levels::normal, pb::priority_levels::low, false},
                           scenario{true, 255, 3, true},  // the widest setting: every level is urgent
                           scenario{false, pb::priority_levels::normal, pb::priority_levels::high, false}}) {
    CAPTURE(s.flushes, int(s.urgent), int(s.submitted));
    manual_loop loop;
    batcher_type::config cfg;
    cfg.high_priority_flushes = s.flushes;
    cfg.urgent_priority = s.urgent;
    cfg.timeout.max_batch_size = 8;
    cfg.timeout.max_delay = 1s;
    recording_backend backend;
    batcher_type b(loop.context.get_executor(), backend, cfg);
    b.async_submit(item{1}, pb::request_options{}.with_priority(pb::priority_levels::low), loop.recorder(1));
    loop.settle();
    b.async_submit(item{2}, pb::request_options{}.with_priority(s.submitted), loop.recorder(2));
    loop.settle();
    if (s.expect_flush && s.urgent < pb::priority_levels::low) {
      REQUIRE(backend.log->batch_count() == 1);  // the urgent arrival takes the waiting low request along
      CHECK(backend.log->snapshot()[0].size() == 2);
      CHECK(b.stats().flushes(pb::flush_reason::priority) == 1);
    } else if (s.expect_flush) {
      CHECK(backend.log->batch_count() == 2);  // the low request was urgent too, and left on its own
      CHECK(b.stats().flushes(pb::flush_reason::priority) == 2);
    } else {
      CHECK(backend.log->batch_count() == 0);
      loop.advance(1s);
      CHECK(backend.log->batch_count() == 1);  // max_delay flushes them together
      CHECK(b.stats().flushes(pb::flush_reason::delay) == 1);
    }
    CHECK(loop.results.size() == 2);
  }
}

TEST_CASE("On the dispatcher's own executor the first batch of a dispatcher run runs in that run's handler; later "
          "batches are posted, in launch order",
          "[dispatch]") {
  using batcher_type = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo,
                                   recording_backend, pb::manual_clock>;
  manual_loop loop;
  batcher_type::config cfg;
  cfg.max_in_flight = 4;
  cfg.timeout.max_batch_size = 2;
  cfg.timeout.max_delay = 1s;
  recording_backend backend;
  batcher_type b(loop.context.get_executor(), backend, cfg);
  for (int id = 1; id <= 6; ++id) b.async_submit(item{id}, {}, loop.recorder(id));

  // The first arrival posted one wake-up; that handler drains all six and launches three batches.
  REQUIRE(loop.context.run_one() == 1);
  CHECK(b.stats().batches == 3);
  CHECK(backend.log->snapshot() == std::vector<std::vector<int>>{{1, 2}});
  CHECK(loop.results.size() == 2);  // delivered in the same handler (the callbacks have no executor of their own)

  // Each posted batch is a handler of its own, so another thread of the executor could have taken it.
  REQUIRE(loop.context.run_one() == 1);
  CHECK(backend.log->snapshot() == std::vector<std::vector<int>>{{1, 2}, {3, 4}});
  REQUIRE(loop.context.run_one() == 1);
  CHECK(backend.log->snapshot() == std::vector<std::vector<int>>{{1, 2}, {3, 4}, {5, 6}});
  loop.settle();
  CHECK(loop.results.size() == 6);
  CHECK(b.stats().completed == 6);
  CHECK(b.stats().in_flight == 0);
}
