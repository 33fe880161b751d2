// config.timer_lead and the learned lead (config.max_learned_timer_lead, flush_lateness_target): the timer fires that
// much before a timed decision and the dispatcher waits out the rest busily, so the decision is on time rather than
// as late as the thread's wake-up. Real time is the point here, so those tests run on steady_clock, with margins no
// scheduler hiccup reaches; the virtual clock ignores the lead.
#include "test_support.hpp"

#include <powerbatch/detail/wake_lateness.hpp>
#include <powerbatch/power/profiles.hpp>

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

using namespace pbtest;

namespace {

using real_batcher = pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo,
                                 recording_backend, std::chrono::steady_clock, arrival_observer>;

// What a run of lone requests left behind (run_lone_requests).
struct lone_run {
  pb::duration lead_before{};  // stats().timer_lead before the first request
  pb::batcher_stats stats;
};

// Submits `rounds` lone requests, one after another, to a real-time batcher with `cfg` on an io_context thread of
// its own, and checks that each one's batch left no earlier than max_delay after its submission.
lone_run run_lone_requests(const real_batcher::config& cfg, int rounds) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  real_batcher b(io.get_executor(), recording_backend{}, cfg);
  lone_run run{b.stats().timer_lead, {}};
  std::vector<pb::time_point> submitted;
  for (int i = 0; i < rounds; ++i) {
    submitted.push_back(std::chrono::steady_clock::now());
    auto f = b.async_submit(item{i}, {}, asio::use_future);
    CHECK(std::get<1>(f.get()) == i * 10);
  }
  b.shutdown();
  guard.reset();
  runner.join();
  run.stats = b.stats();
  const std::vector<pb::time_point>& dispatched = b.observer().dispatched;
  REQUIRE(dispatched.size() == submitted.size());
  for (std::size_t i = 0; i < submitted.size(); ++i)
    CHECK(dispatched[i] >= submitted[i] + cfg.timeout.max_delay);  // a lead never makes a flush early
  CHECK(run.stats.flushes(pb::flush_reason::delay) == static_cast<std::uint64_t>(rounds));
  return run;
}

}  // namespace

TEST_CASE("With a timer_lead the dispatcher waits busily for a delay flush, which leaves no earlier than due",
          "[timer_lead]") {
  constexpr auto max_delay = 60ms;
  constexpr int rounds = 3;
  const pb::batcher_stats s =
      run_lone_requests({.timer_lead = 30ms, .timeout = {.max_batch_size = 100, .max_delay = max_delay}}, rounds)
          .stats;
  const pb::batcher_stats plain =
      run_lone_requests({.max_learned_timer_lead = 0ns, .timeout = {.max_batch_size = 100, .max_delay = max_delay}},
                        rounds)
          .stats;
  // Each timer fires 30 ms early; a wake-up 30 ms late would be needed to skip a busy wait.
  CHECK(s.busy_waits >= 1);
  CHECK(s.busy_waits <= rounds);
  CHECK(s.busy_wait_time > std::chrono::nanoseconds::zero());
  CHECK(s.timer_lead == 30ms);
  CHECK(plain.busy_waits == 0);
  CHECK(plain.busy_wait_time == std::chrono::nanoseconds::zero());
  CHECK(plain.timer_lead == 0ns);
}

TEST_CASE("By default the timer learns its lead from its own wake-ups, within the configured limit", "[timer_lead]") {
  constexpr auto max_delay = 2ms;
  constexpr int rounds = 40;
  const lone_run learning = run_lone_requests({.timeout = {.max_batch_size = 100, .max_delay = max_delay}}, rounds);
  const lone_run capped = run_lone_requests(
      {.max_learned_timer_lead = 1us, .timeout = {.max_batch_size = 100, .max_delay = max_delay}}, rounds);
  CHECK(learning.lead_before == 0ns);  // nothing learned yet
  // Every wake-up comes some time after its expiry, so 40 of them have taught a lead, and no more than the default
  // limit of 200 us.
  CHECK(learning.stats.timer_lead > 0ns);
  CHECK(learning.stats.timer_lead <= 200us);
  // (Not > 0: with a 1 us limit only wake-ups within 1 us plus the target count, and a slow machine may have none.)
  CHECK(capped.stats.timer_lead <= 1us);
}

TEST_CASE("Timeout policies that tolerate late wake-ups learn no timer lead by default", "[timer_lead]") {
  using size_or_delay = pb::timeout::size_or_delay;
  // Busy waiting for punctuality would spend what a power profile's wake tolerance saves.
  CHECK(pb::batcher_config<size_or_delay, pb::priority::fifo>{}.max_learned_timer_lead == 200us);
  CHECK(pb::batcher_config<pb::power::max_performance<size_or_delay>, pb::priority::fifo>{}.max_learned_timer_lead ==
        200us);  // no tolerance: punctual
  CHECK(pb::batcher_config<pb::power::balanced<size_or_delay>, pb::priority::fifo>{}.max_learned_timer_lead == 0ns);
  CHECK(pb::batcher_config<pb::power::power_saver<size_or_delay>, pb::priority::fifo>{}.max_learned_timer_lead ==
        0ns);
  STATIC_REQUIRE(pb::tolerates_late_wakeups<pb::power::ultra_efficient<size_or_delay>>);
  STATIC_REQUIRE_FALSE(pb::tolerates_late_wakeups<size_or_delay>);
}

TEST_CASE("wake_lateness: the median and 99th percentile of the last 128 wake-ups, and the lead they make",
          "[timer_lead]") {
  // A 25 us target and a 200 us limit: wake-ups more than 225 us late are beyond any lead it may learn.
  pb::detail::wake_lateness lateness(25us, 200us);
  CHECK(lateness.lead() == 0ns);
  lateness.record(-5us);  // a clock step backwards counts as on time
  CHECK(lateness.p99() == 0ns);
  CHECK(lateness.lead() == 0ns);

  // Below 100 wake-ups the 99th percentile is their maximum. Here it is within the target of nothing, so the lead
  // is the median (of 0, 10, 20 and 30 us, the lower middle one).
  lateness.record(10us);
  lateness.record(30us);
  lateness.record(20us);
  CHECK(lateness.p99() == 30us);
  CHECK(lateness.median() == 10us);
  CHECK(lateness.lead() == 10us);

  // A full window of 1..128 us in a scrambled order: one of 128 may be later, so the 99th percentile is the second
  // largest, and the lead is it less the target, more than the median.
  std::vector<int> micros(128);
  std::iota(micros.begin(), micros.end(), 1);
  std::shuffle(micros.begin(), micros.end(), std::mt19937(12345));  // the same order on every run
  for (int us : micros) lateness.record(std::chrono::microseconds(us));
  CHECK(lateness.p99() == 127us);
  CHECK(lateness.median() == 64us);
  CHECK(lateness.lead() == 102us);

  // Older wake-ups leave the window: 128 fast ones replace them all.
  for (int i = 0; i < 128; ++i) lateness.record(5us);
  CHECK(lateness.p99() == 5us);
  CHECK(lateness.lead() == 5us);

  // Wake-ups later than the limit plus the target are left out, however many.
  for (int i = 0; i < 20; ++i) lateness.record(50ms);
  CHECK(lateness.p99() == 5us);
  pb::detail::wake_lateness only_unfixable(25us, 200us);
  only_unfixable.record(2ms);
  CHECK(only_unfixable.lead() == 0ns);

  // The lead never exceeds its limit, though the median may: with a 10 us limit, wake-ups up to 35 us count, and
  // their median is 18 us.
  pb::detail::wake_lateness limited(25us, 10us);
  for (int us : micros) limited.record(std::chrono::microseconds(us));
  CHECK(limited.p99() == 35us);
  CHECK(limited.median() == 18us);
  CHECK(limited.lead() == 10us);

  // The largest target asks for the median alone (and the limit plus it must not overflow).
  pb::detail::wake_lateness median_only(pb::duration::max(), 200us);
  for (int us : micros) median_only.record(std::chrono::microseconds(us));
  CHECK(median_only.p99() == 127us);
  CHECK(median_only.lead() == 64us);
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
