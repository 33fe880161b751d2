// Timer slack: set and read back with prctl(PR_GET_TIMERSLACK) on Linux; runner threads started with a slack.
#include <powerbatch/power/timer_slack.hpp>
#include <powerbatch/runner.hpp>

#include <catch2/catch.hpp>

#include <boost/asio/post.hpp>

#include <chrono>
#include <future>
#include <latch>
#include <thread>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace power = powerbatch::power;
using namespace std::chrono_literals;

#if defined(__linux__)
namespace {
long current_slack_ns() { return static_cast<long>(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)); }
}  // namespace

TEST_CASE("timer slack: set on this thread, read back, zero restores the default", "[timer_slack]") {
  long initial = 0, set = 0, restored = 0;
  std::error_code set_error, negative_error;
  std::thread probe([&] {  // a fresh thread, so the test's own thread keeps its slack
    initial = current_slack_ns();
    set_error = power::set_thread_timer_slack(2ms);
    set = current_slack_ns();
    negative_error = power::set_thread_timer_slack(-1ns);
    power::set_thread_timer_slack(0ns);
    restored = current_slack_ns();
  });
  probe.join();
  CHECK_FALSE(set_error);
  CHECK(set == 2'000'000);
  CHECK(negative_error == std::errc::invalid_argument);
  CHECK(restored == initial);
  CHECK(power::thread_timer_slack_supported());
}

TEST_CASE("runner: every worker thread gets the requested timer slack", "[timer_slack][runner]") {
  powerbatch::runner::options opts;
  opts.threads = 2;
  opts.timer_slack = 3ms;
  powerbatch::runner pool(opts);
  CHECK_FALSE(pool.timer_slack_error());

  // Two tasks that wait for each other must run on the two different workers.
  std::latch both(2);
  std::promise<long> first, second;
  boost::asio::post(pool.get_executor(), [&] {
    both.arrive_and_wait();
    first.set_value(current_slack_ns());
  });
  boost::asio::post(pool.get_executor(), [&] {
    both.arrive_and_wait();
    second.set_value(current_slack_ns());
  });
  CHECK(first.get_future().get() == 3'000'000);
  CHECK(second.get_future().get() == 3'000'000);
  pool.join();
}

TEST_CASE("runner: without a slack the workers inherit the creator's, and the old API works", "[timer_slack][runner]") {
  const long mine = current_slack_ns();
  powerbatch::runner pool(1);
  std::promise<long> slack;
  boost::asio::post(pool.get_executor(), [&] { slack.set_value(current_slack_ns()); });
  CHECK(slack.get_future().get() == mine);
  CHECK_FALSE(pool.timer_slack_error());
}
#else
TEST_CASE("timer slack: not supported here, and says so", "[timer_slack]") {
  const auto error = power::set_thread_timer_slack(1ms);
  CHECK(error == power::platform_errc::timer_slack_not_supported);
  CHECK(error == std::errc::not_supported);
  CHECK_FALSE(power::thread_timer_slack_supported());
}
#endif
