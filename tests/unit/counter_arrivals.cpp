// Arrival times from the CPU's counter (detail/counter_arrivals.hpp): the conversion, the calibration against
// steady_clock, and a steady_clock batcher whose arrivals come from it — never before the submission, in submission
// order whatever each request's options, and never flushed before max_delay.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <thread>

using namespace pbtest;
using counter_arrivals = pb::detail::counter_arrivals;

namespace {

bool counter_usable() { return counter_arrivals::supported && counter_arrivals::invariant_counter(); }

// Dispatchers calibrate as they run; a test that needs the scale drives the calibration itself (a second at most).
void calibrate_or_skip() {
  const auto give_up = std::chrono::steady_clock::now() + 2s;
  while (counter_usable() && !counter_arrivals::calibrated() && std::chrono::steady_clock::now() < give_up) {
    counter_arrivals::observe(std::chrono::steady_clock::now());
    std::this_thread::sleep_for(1ms);
  }
  if (counter_usable()) REQUIRE(counter_arrivals::calibrated());
}

}  // namespace

TEST_CASE("A counter stamp becomes the pair's time less its scaled age, and never later than the pair",
          "[counter_arrivals]") {
  const pb::time_point t(10s);
  const pb::detail::counter_pair pair{1'000'000, t, 0.5};
  CHECK(pair.to_time(1'000'000) == t);
  CHECK(pair.to_time(999'000) == t - 500ns);
  CHECK(pair.to_time(0) == t - 500us);
  CHECK(pair.to_time(1'000'400) == t);  // read after the pair (or the counter went back): not after the pair
  const pb::detail::counter_pair after_wrap{5, t, 1.0};
  CHECK(after_wrap.to_time(~std::uint64_t{0} - 4) == t - 10ns);  // a stamp from before the counter wrapped
}

TEST_CASE("The counter's scale is measured against steady_clock, and converted stamps are never early",
          "[counter_arrivals]") {
  if (!counter_usable()) {
    for (int i = 0; i < 30; ++i) {
      counter_arrivals::observe(std::chrono::steady_clock::now());
      std::this_thread::sleep_for(1ms);
    }
    CHECK_FALSE(counter_arrivals::calibrated());  // producers keep reading steady_clock
    return;
  }
  calibrate_or_skip();
  const double scale = counter_arrivals::scale();
  CHECK(scale > 0.01);  // a counter between 10 MHz and 100 GHz
  CHECK(scale < 100.0);
  // A preempted thread makes a conversion late, never early: every try must be on time or late, and one close.
  bool close = false;
  for (int attempt = 0; attempt < 10 && !close; ++attempt) {
    const pb::time_point before = std::chrono::steady_clock::now();
    const std::uint64_t stamp = counter_arrivals::read();
    const pb::time_point after = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(2ms);
    const pb::time_point converted = counter_arrivals::read_pair().to_time(stamp);
    CHECK(converted >= before);
    close = converted <= after + 20us;
  }
  CHECK(close);
}

TEST_CASE("A steady_clock batcher stamps arrivals by the counter: on time, in order, flushed no earlier than due",
          "[counter_arrivals]") {
  calibrate_or_skip();  // where the counter is unusable this checks the same of steady_clock arrivals
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  recording_backend backend;
  constexpr auto max_delay = 3ms;
  pb::Batcher<pb::queue::sharded_ring<>, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend,
              std::chrono::steady_clock, arrival_observer>
      b(io.get_executor(), backend, {.timeout = {.max_batch_size = 1000, .max_delay = max_delay}});

  constexpr int n = 12;
  std::vector<pb::time_point> before(n), after(n);
  std::vector<std::future<std::tuple<std::error_code, int>>> results;
  for (int i = 0; i < n; ++i) {
    // Requests with a timeout keep it for the dispatcher, which adds it to the arrival it converts.
    pb::request_options options;
    if (i % 2 == 1) options.with_timeout(10s);
    before[i] = std::chrono::steady_clock::now();
    results.push_back(b.async_submit(item{i}, options, asio::use_future));
    after[i] = std::chrono::steady_clock::now();
  }
  for (int i = 0; i < n; ++i) CHECK(std::get<1>(results[static_cast<std::size_t>(i)].get()) == i * 10);
  b.shutdown();
  guard.reset();
  runner.join();

  const std::vector<std::vector<int>> batches = backend.log->snapshot();
  const arrival_observer& seen = b.observer();
  REQUIRE(seen.arrivals.size() == batches.size());
  int expected_id = 0;
  for (std::size_t k = 0; k < batches.size(); ++k) {
    REQUIRE(seen.arrivals[k].size() == batches[k].size());
    CHECK(seen.reasons[k] == pb::flush_reason::delay);
    // max_delay counts from the oldest request's real submission: the batch never leaves before that.
    CHECK(seen.dispatched[k] >= before[static_cast<std::size_t>(batches[k].front())] + max_delay);
    for (std::size_t j = 0; j < batches[k].size(); ++j) {
      const int id = batches[k][j];
      CHECK(id == expected_id++);  // one thread's requests keep their order, whichever way their time was read
      const auto i = static_cast<std::size_t>(id);
      CHECK(seen.arrivals[k][j] >= before[i]);
      CHECK(seen.arrivals[k][j] <= after[i] + 1ms);  // late only by preemption, in this test
    }
  }
  CHECK(expected_id == n);
}

TEST_CASE("A timeout needs no clock read: it wakes the dispatcher only when it is due first", "[counter_arrivals]") {
  calibrate_or_skip();  // where the counter is unusable this checks the same of clock-read deadlines
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  recording_backend backend;
  pb::Batcher<pb::queue::sharded_ring<>, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend,
              std::chrono::steady_clock>
      b(io.get_executor(), backend,
        // A wide deadline margin: the batch leaves 1.5 s before the deadline, so a timer that wakes late on a loaded
        // machine (sanitizers, parallel tests) still finds the request in time.
        {.timeout = {.max_batch_size = 1000, .max_delay = 10s, .deadline_margin = 1500ms}});

  // One plain request opens a 10 s window: the dispatcher files it, arms its timer and sleeps.
  auto plain = b.async_submit(item{1}, asio::use_future);
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (b.stats().timers_armed == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  REQUIRE(b.stats().timers_armed == 1);
  const std::uint64_t wakeups = b.stats().wakeups_posted;

  // Timeouts due after the window change nothing: no wake-up.
  std::vector<std::future<std::tuple<std::error_code, int>>> later;
  for (int i = 0; i < 20; ++i)
    later.push_back(b.async_submit(item{10 + i}, pb::request_options{}.with_timeout(60s), asio::use_future));
  CHECK(b.stats().wakeups_posted == wakeups);

  // One due before the window closes wakes it, and the batch leaves early for its deadline, with everyone in it.
  auto soon = b.async_submit(item{99}, pb::request_options{}.with_timeout(2s), asio::use_future);
  CHECK(b.stats().wakeups_posted == wakeups + 1);
  REQUIRE(soon.wait_for(5s) == std::future_status::ready);  // not the window's 10 s
  CHECK(std::get<1>(soon.get()) == 990);
  CHECK(std::get<1>(plain.get()) == 10);
  for (int i = 0; i < 20; ++i) CHECK(std::get<1>(later[static_cast<std::size_t>(i)].get()) == (10 + i) * 10);
  CHECK(b.stats().batches == 1);
  CHECK(b.stats().flushes(pb::flush_reason::deadline) == 1);

  // A timeout of zero has passed at submission.
  auto none_left = b.async_submit(item{7}, pb::request_options{}.with_timeout(0ms), asio::use_future);
  CHECK(std::get<0>(none_left.get()) == pb::errc::deadline_expired);

  b.shutdown();
  guard.reset();
  runner.join();
}

TEST_CASE("A timeout kept for the dispatcher expires no earlier than its time after submission", "[counter_arrivals]") {
  calibrate_or_skip();
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  recording_backend backend;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  backend.log->on_batch = [released](const std::vector<int>&) { released.wait(); };  // holds the only batch slot
  asio::thread_pool compute(1);  // the backend blocks there, not on the dispatcher's thread
  pb::Batcher<pb::queue::sharded_ring<>, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend,
              std::chrono::steady_clock>
      b(io.get_executor(), compute.get_executor(), backend,
        {.max_in_flight = 1, .timeout = {.max_batch_size = 1, .max_delay = 10s}});
  auto first = b.async_submit(item{1}, asio::use_future);  // runs, and blocks the backend until released
  const auto submitted = std::chrono::steady_clock::now();
  auto waiting = b.async_submit(item{2}, pb::request_options{}.with_timeout(20ms), asio::use_future);
  const bool answered = waiting.wait_for(5s) == std::future_status::ready;
  const auto expired_after = std::chrono::steady_clock::now() - submitted;
  release.set_value();  // first, so that a failed check below cannot leave the backend blocked
  REQUIRE(answered);
  CHECK(std::get<0>(waiting.get()) == pb::errc::deadline_expired);
  CHECK(expired_after >= 20ms);
  CHECK(std::get<1>(first.get()) == 10);
  b.shutdown();
  compute.join();
  guard.reset();
  runner.join();
}
