// Wake-ups on the real clock, counted as the batcher counts them (dispatcher runs whose thread had slept: voluntary
// context switches on Linux). Bounds are generous where the arithmetic allows; the reasoning is beside each one.
#include <powerbatch/powerbatch.hpp>
#include <powerbatch/power/profiles.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <span>
#include <thread>

namespace pb = powerbatch;
namespace pw = powerbatch::power;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct doubling {
  using input_type = int;
  using output_type = int;
  void run(std::span<int> in, std::span<int> out) {
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = 2 * in[i];
  }
};

using balanced_batcher =
    pb::Batcher<pb::queue::moodycamel, pw::balanced<pb::timeout::size_or_delay>, pb::priority::strict_levels<3>,
                doubling>;

// One thread runs the batcher's executor, as in a service.
struct dispatcher_thread {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~dispatcher_thread() {
    work.reset();
    thread.join();
  }
};

balanced_batcher::config balanced_config(pb::duration window) {
  balanced_batcher::config cfg;
  cfg.timeout.inner.max_batch_size = 32;
  cfg.timeout.inner.max_delay = window;
  // Nominal temperature, mains power: the test must not depend on how warm this machine is.
  cfg.timeout.env = pw::make_environment(pw::no_thermal_sensor{}, pw::mains_power{});
  return cfg;
}

}  // namespace

TEST_CASE("An idle governed batcher costs no wake-ups: no sensor timer, no polling", "[power][wakeups]") {
  dispatcher_thread t;
  balanced_batcher b(t.io.get_executor(), doubling{}, balanced_config(20ms));
  // One request first, so the lane, its policy state and the environment all exist and have been used.
  const auto first = b.submit(21);
  REQUIRE_FALSE(first.error);
  REQUIRE(first.value == 42);
  const pb::batcher_stats before = b.stats();
  std::this_thread::sleep_for(2s);
  const pb::batcher_stats after = b.stats();
  // 0 expected; 2 allowed for a timer armed before the request completed.
  CHECK(after.dispatcher_wakeups - before.dispatcher_wakeups <= 2);
  CHECK(after.timers_armed - before.timers_armed <= 1);
}

// 100 requests/s, one every 10 ms, 20 ms window. balanced flushes at the last 16 ms grid tick within 100 ms after
// the window: 104-120 ms after a batch's first request, so a batch holds 11-12 requests and costs two wake-ups
// (its first arrival and its timer): about 0.17-0.18 per request. Plain size_or_delay would flush after 20 ms with
// 2-3 requests: 0.7-1 per request.
TEST_CASE("balanced: 200 requests at 100/s with a 20 ms window cost at most 0.2 wake-ups per request",
          "[power][wakeups]") {
  dispatcher_thread t;
  balanced_batcher b(t.io.get_executor(), doubling{}, balanced_config(20ms));
  std::atomic<int> done{0}, failed{0};
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_until(next);
    b.async_submit(i, {}, [&](std::error_code ec, int) {
      failed += ec ? 1 : 0;
      ++done;
    });
    next += 10ms;
  }
  b.shutdown(pb::shutdown_mode::drain);
  REQUIRE(done == 200);
  CHECK(failed == 0);
  const pb::batcher_stats s = b.stats();
  const double per_request = static_cast<double>(s.thread_wakeups) / 200.0;
  INFO("thread wake-ups " << s.thread_wakeups << ", dispatcher runs " << s.dispatcher_wakeups << ", batches "
                          << s.batches << ", mean batch " << s.mean_batch_size());
  CHECK(per_request <= 0.2);
  CHECK(s.mean_batch_size() >= 8.0);
}
