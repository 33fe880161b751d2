// config.timer_lead: the timer fires that much before a timed decision and the dispatcher waits out the rest busily,
// so the decision is on time rather than as late as the thread's wake-up. Real time is the point here, so the first
// test runs on steady_clock, with margins no scheduler hiccup reaches; the virtual clock ignores the lead.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

using namespace pbtest;

namespace {

struct dispatch_observer {
  std::vector<pb::time_point> dispatched;
  void on_batch(const pb::batch_record& r) { dispatched.push_back(r.dispatched_at); }
};

using real_batcher = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo,
                                 recording_backend, std::chrono::steady_clock, dispatch_observer>;

// Submits `rounds` lone requests one after another; returns each one's submission time.
std::vector<pb::time_point> submit_lone_requests(real_batcher& b, int rounds) {
  std::vector<pb::time_point> submitted;
  for (int i = 0; i < rounds; ++i) {
    submitted.push_back(std::chrono::steady_clock::now());
    auto f = b.async_submit(item{i}, {}, asio::use_future);
    CHECK(std::get<1>(f.get()) == i * 10);
  }
  return submitted;
}

}  // namespace

TEST_CASE("With a timer_lead the dispatcher waits busily for a delay flush, which leaves no earlier than due",
          "[timer_lead]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  constexpr auto max_delay = 60ms;
  constexpr int rounds = 3;
  real_batcher leading(io.get_executor(), recording_backend{},
                       {.timer_lead = 30ms, .timeout = {.max_batch_size = 100, .max_delay = max_delay}});
  real_batcher plain(io.get_executor(), recording_backend{},
                     {.timeout = {.max_batch_size = 100, .max_delay = max_delay}});

  const std::vector<pb::time_point> led = submit_lone_requests(leading, rounds);
  const std::vector<pb::time_point> unled = submit_lone_requests(plain, rounds);
  leading.shutdown();
  plain.shutdown();
  guard.reset();
  runner.join();

  REQUIRE(leading.observer().dispatched.size() == rounds);
  REQUIRE(plain.observer().dispatched.size() == rounds);
  for (std::size_t i = 0; i < rounds; ++i) {
    CHECK(leading.observer().dispatched[i] >= led[i] + max_delay);
    CHECK(plain.observer().dispatched[i] >= unled[i] + max_delay);
  }
  const pb::batcher_stats s = leading.stats();
  CHECK(s.flushes(pb::flush_reason::delay) == rounds);
  // Each timer fires 30 ms early; a wake-up 30 ms late would be needed to skip a busy wait.
  CHECK(s.busy_waits >= 1);
  CHECK(s.busy_waits <= rounds);
  CHECK(s.busy_wait_time > std::chrono::nanoseconds::zero());
  CHECK(plain.stats().busy_waits == 0);
  CHECK(plain.stats().busy_wait_time == std::chrono::nanoseconds::zero());
}

TEST_CASE("A virtual clock ignores timer_lead: the timer fires when the decision is due, with no busy wait",
          "[timer_lead]") {
  manual_loop loop;
  recording_backend backend;
  pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend,
              pb::manual_clock>
      b(loop.context.get_executor(), backend,
        {.timer_lead = 2ms, .timeout = {.max_batch_size = 10, .max_delay = 5ms}});
  b.async_submit(item{1}, {}, loop.recorder(1));
  loop.settle();
  loop.advance(4ms);
  CHECK(backend.log->batch_count() == 0);
  CHECK(b.stats().timer_fires == 0);  // not fired 2 ms early
  loop.advance(1ms);
  CHECK(backend.log->batch_count() == 1);
  CHECK(b.stats().timer_fires == 1);
  CHECK(b.stats().busy_waits == 0);
  REQUIRE(loop.results.size() == 1);
  CHECK(loop.results[0].value == 10);
}
