// The wake grid, the environment's polling and hysteresis, and the profiles' decisions, on lane views built by hand
// (no batcher, no Asio): each rule of governor.hpp in isolation.
#include "power_test_support.hpp"

#include <powerbatch/power/alignment.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/timeout/latency_target.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <catch2/catch.hpp>

#include <random>

using namespace pbpower;

namespace {

using balanced = pw::balanced<pb::timeout::size_or_delay>;

balanced::params balanced_params(const rig& r) {
  balanced::params p;
  p.inner.max_batch_size = 32;
  p.inner.max_delay = 20ms;
  p.env = r.env;
  return p;
}

}  // namespace

TEST_CASE("The wake grid is the largest power-of-two milliseconds within a quarter of the tolerance", "[alignment]") {
  CHECK(pw::wake_grid(0ms) == 0ms);
  CHECK(pw::wake_grid(3ms) == 0ms);
  CHECK(pw::wake_grid(4ms) == 1ms);
  CHECK(pw::wake_grid(100ms) == 16ms);
  CHECK(pw::wake_grid(200ms) == 32ms);
  CHECK(pw::wake_grid(500ms) == 64ms);
  CHECK(pw::wake_grid(2s) == 256ms);
  CHECK(pw::align_down(t0() + 17ms, 16ms) == t0() + 16ms);
  CHECK(pw::align_up(t0() + 17ms, 16ms) == t0() + 32ms);
  CHECK(pw::align_up(t0() + 16ms, 16ms) == t0() + 16ms);
  CHECK(pw::align_up(t0() + 17ms, 0ms) == t0() + 17ms);
  CHECK(pw::align_up(pb::time_point::max(), 16ms) == pb::time_point::max());
  // Grids nest: a tick of the 64 ms grid is a tick of the 16 ms one.
  const pb::time_point coarse = pw::align_up(t0() + 5ms, 64ms);
  CHECK(pw::align_down(coarse, 16ms) == coarse);
}

TEST_CASE("A flush leaves at the last grid tick within its tolerance, never before it is due", "[alignment]") {
  CHECK(pw::aligned_flush_time(t0() + 23ms, 100ms, 16ms) == t0() + 112ms);
  CHECK(pw::aligned_flush_time(t0() + 23ms, 0ms, 16ms) == t0() + 23ms);
  CHECK(pw::aligned_flush_time(t0() + 23ms, 100ms, 0ms) == t0() + 123ms);
  CHECK(pw::aligned_flush_time(pb::time_point::max(), 100ms, 16ms) == pb::time_point::max());

  std::mt19937_64 random(42);
  std::uniform_int_distribution<long> offset_us(0, 10'000'000);
  const pb::duration tolerances[] = {0ms, 3ms, 4ms, 100ms, 200ms, 2s};
  for (int i = 0; i < 20000; ++i) {
    const pb::duration tolerance = tolerances[i % 6];
    const pb::duration grid = pw::wake_grid(tolerance);
    const pb::time_point due = t0() + std::chrono::microseconds(offset_us(random));
    const pb::time_point now = t0() + std::chrono::microseconds(offset_us(random));
    const pb::time_point leaves = pw::aligned_flush_time(due, tolerance, grid);
    REQUIRE(leaves >= due);
    REQUIRE(leaves <= due + tolerance);
    if (grid > 0ms) REQUIRE(pw::align_down(leaves, grid) == leaves);
    // The inverse view the governor shows its inner policy agrees with the forward one, at every instant.
    REQUIRE((leaves <= now) == (due <= pw::latest_due_leaving_at(now, tolerance, grid)));
    REQUIRE((leaves <= leaves) == (due <= pw::latest_due_leaving_at(leaves, tolerance, grid)));
  }
}

TEST_CASE("The environment reads its sensors at most once per sensor period", "[environment]") {
  rig r({.sensor_period = 1s, .cool_down = 3s});
  r.thermal->set(pw::thermal_level::moderate);
  CHECK(r.env->poll(t0()).level == pw::thermal_level::moderate);
  CHECK(r.thermal->reads == 1);
  CHECK(r.power->reads == 1);
  r.thermal->set(pw::thermal_level::critical);
  for (int ms = 0; ms < 1000; ms += 10) CHECK(r.env->poll(t0() + std::chrono::milliseconds(ms)).level ==
                                              pw::thermal_level::moderate);
  CHECK(r.thermal->reads == 1);
  CHECK(r.env->poll(t0() + 1s).level == pw::thermal_level::critical);  // one period later: read, hotter at once
  CHECK(r.thermal->reads == 2);
  CHECK(r.env->state().polls == 2);
  // A clock that went backwards (a reset manual clock) reads again rather than trusting a stale period.
  CHECK(r.env->poll(t0() - 1h).level == pw::thermal_level::critical);
  CHECK(r.thermal->reads == 3);
}

TEST_CASE("Cooling takes effect only after cool_down, to the hottest level seen meanwhile", "[environment]") {
  rig r({.sensor_period = 1s, .cool_down = 3s});
  r.thermal->set(pw::thermal_level::severe);
  CHECK(r.env->poll(t0()).level == pw::thermal_level::severe);
  r.thermal->set(pw::thermal_level::light);
  CHECK(r.env->poll(t0() + 1s).level == pw::thermal_level::severe);  // cooling starts
  r.thermal->set(pw::thermal_level::moderate);
  CHECK(r.env->poll(t0() + 2s).level == pw::thermal_level::severe);
  r.thermal->set(pw::thermal_level::nominal);
  CHECK(r.env->poll(t0() + 3s).level == pw::thermal_level::severe);
  CHECK(r.env->poll(t0() + 4s).level == pw::thermal_level::moderate);  // 3 s cooler: the hottest of those
  CHECK(r.env->poll(t0() + 5s).level == pw::thermal_level::moderate);  // a new cool-down from here
  CHECK(r.env->poll(t0() + 7s).level == pw::thermal_level::moderate);
  CHECK(r.env->poll(t0() + 8s).level == pw::thermal_level::nominal);
  CHECK(r.env->state().reported == pw::thermal_level::nominal);
}

TEST_CASE("A hot reading during cool-down cancels it", "[environment]") {
  rig r({.sensor_period = 1s, .cool_down = 3s});
  r.thermal->set(pw::thermal_level::severe);
  r.env->poll(t0());
  r.thermal->set(pw::thermal_level::nominal);
  r.env->poll(t0() + 1s);
  r.thermal->set(pw::thermal_level::severe);
  r.env->poll(t0() + 2s);
  r.thermal->set(pw::thermal_level::nominal);
  CHECK(r.env->poll(t0() + 3s).level == pw::thermal_level::severe);
  CHECK(r.env->poll(t0() + 5s).level == pw::thermal_level::severe);  // 2 s of the new cool-down only
  CHECK(r.env->poll(t0() + 6s).level == pw::thermal_level::nominal);
}

TEST_CASE("A sensor error keeps the last good state and is reported", "[environment]") {
  rig r;
  r.thermal->set(pw::thermal_level::moderate);
  r.power->unplug();
  r.env->poll(t0());
  r.thermal->reading = pw::thermal_reading{};
  r.thermal->reading.error = std::make_error_code(std::errc::permission_denied);
  r.thermal->reading.detail = "/sys/class/thermal/thermal_zone0/temp: Permission denied";
  // A power reading with an error holds what could be read (here: the battery is discharging).
  r.power->reading.error = std::make_error_code(std::errc::no_such_file_or_directory);
  const pw::conditions c = r.env->poll(t0() + 1s);
  CHECK(c.level == pw::thermal_level::moderate);
  CHECK(c.on_battery);
  const pw::environment_state s = r.env->state();
  CHECK(s.thermal_errors == 1);
  CHECK(s.power_errors == 1);
  CHECK(s.last_thermal_error == std::errc::permission_denied);
}

TEST_CASE("balanced waits for the last 16 ms tick within 100 ms after the window", "[profiles]") {
  rig r;
  balanced::state s(balanced_params(r));
  const pb::time_point oldest = t0() + 3ms;  // due at t0 + 23 ms, may leave until t0 + 123 ms
  pb::decision d = s.decide(view(2, oldest, oldest));
  REQUIRE_FALSE(d.flushes());
  CHECK(d.wake_at == t0() + 112ms);
  CHECK(d.wake_at_pending == 32);
  d = s.decide(view(5, oldest, t0() + 111ms));
  CHECK_FALSE(d.flushes());
  CHECK(d.wake_at == t0() + 112ms);
  d = s.decide(view(5, oldest, t0() + 112ms));
  CHECK(d.flush_count == 5);
  CHECK(d.reason == pb::flush_reason::delay);
  // Size still flushes at once, and a deadline cuts the tolerance short.
  d = s.decide(view(32, oldest, oldest));
  CHECK(d.flush_count == 32);
  CHECK(d.reason == pb::flush_reason::size);
  pb::lane_view v = view(2, oldest, oldest);
  v.earliest_deadline = oldest + 50ms;
  d = s.decide(v);
  CHECK(d.wake_at == oldest + 50ms - pb::timeout::default_deadline_margin);
  v.now = d.wake_at;
  d = s.decide(v);
  CHECK(d.flush_count == 2);
  CHECK(d.reason == pb::flush_reason::deadline);
}

TEST_CASE("max_performance and custom decide exactly like the policy they wrap while nothing reacts", "[profiles]") {
  rig r;
  pw::max_performance<pb::timeout::size_or_delay>::params mp;
  mp.inner.max_delay = 5ms;
  mp.env = r.env;
  pw::max_performance<pb::timeout::size_or_delay>::state wrapped(mp);
  pw::custom<pb::timeout::latency_target>::params cp;
  cp.env = nullptr;  // no sensors at all
  pw::custom<pb::timeout::latency_target>::state wrapped_lt(cp);
  pb::timeout::size_or_delay::state plain(mp.inner);
  pb::timeout::latency_target::state plain_lt(cp.inner);

  std::mt19937 random(7);
  std::uniform_int_distribution<int> pending(1, 40), waited_us(0, 12000), deadline_us(0, 20000);
  for (int i = 0; i < 5000; ++i) {
    pb::lane_view v = view(static_cast<std::size_t>(pending(random)), t0(),
                           t0() + std::chrono::microseconds(waited_us(random)));
    const bool has_deadline = i % 3 == 0;
    if (has_deadline) v.earliest_deadline = t0() + std::chrono::microseconds(deadline_us(random) + 300);
    for (auto [a, b] : {std::pair{wrapped.decide(v), plain.decide(v)}, std::pair{wrapped_lt.decide(v), plain_lt.decide(v)}}) {
      REQUIRE(a.flush_count == b.flush_count);
      REQUIRE(a.wake_at == b.wake_at);
      REQUIRE(a.wake_at_pending == b.wake_at_pending);
      if (!has_deadline) REQUIRE(a.reason == b.reason);
    }
  }
}

TEST_CASE("A thermal level caps the batch, stretches the window and limits batches in flight", "[profiles][thermal]") {
  rig r;
  balanced::state s(balanced_params(r));
  r.thermal->set(pw::thermal_level::severe);  // balanced at severe: cap 8, window x4, 1 in flight, defer low
  pb::decision d = s.decide(view(20, t0(), t0()));
  CHECK(d.flush_count == 8);
  CHECK(d.reason == pb::flush_reason::thermal);
  // 3 waiting: due after 4 x 20 ms, then the last 16 ms tick within 100 ms of that.
  d = s.decide(view(3, t0(), t0() + 1ms));
  CHECK_FALSE(d.flushes());
  CHECK(d.wake_at == t0() + 176ms);
  CHECK(d.wake_at_pending == 8);
  CHECK(s.decide(view(3, t0(), t0() + 175ms)).flush_count == 0);
  d = s.decide(view(3, t0(), t0() + 176ms));
  CHECK(d.flush_count == 3);
  CHECK(d.reason == pb::flush_reason::delay);
  // One batch already running: wait for it (or for a deadline), whatever the lane holds.
  pb::lane_view busy = view(20, t0(), t0() + 2ms);
  busy.in_flight = 1;
  d = s.decide(busy);
  CHECK_FALSE(d.flushes());
  CHECK(d.recheck_on_batch_complete);
  CHECK(d.wake_at == pb::time_point::max());
  busy.earliest_deadline = t0() + 10ms;
  CHECK(s.decide(busy).wake_at == t0() + 10ms - pb::timeout::default_deadline_margin);
  // A forced flush (urgent request, drain) asks only the size: capped too.
  CHECK(s.decide(view(20, t0(), pb::time_point::max())).flush_count == 8);
}

TEST_CASE("A thermal reaction takes effect within one sensor period and relaxes after cooling", "[profiles][thermal]") {
  rig r({.sensor_period = 1s, .cool_down = 3s});
  balanced::state s(balanced_params(r));
  CHECK(s.decide(view(40, t0(), t0())).flush_count == 32);
  r.thermal->set(pw::thermal_level::moderate);
  CHECK(s.decide(view(40, t0(), t0() + 999ms)).flush_count == 32);  // not read yet
  CHECK(s.decide(view(40, t0(), t0() + 1s)).flush_count == 16);     // read: capped
  CHECK(s.last_reaction().active);
  r.thermal->set(pw::thermal_level::nominal);
  CHECK(s.decide(view(40, t0(), t0() + 2s)).flush_count == 16);     // cooling, held
  CHECK(s.decide(view(40, t0(), t0() + 4s)).flush_count == 16);
  CHECK(s.decide(view(40, t0(), t0() + 5s)).flush_count == 32);     // 3 s cool: recovered
  CHECK_FALSE(s.last_reaction().active);
}

TEST_CASE("On battery low priority waits until charging, a deadline, a full batch or a more urgent request",
          "[profiles][power_source]") {
  rig r({.sensor_period = 1s, .cool_down = 3s});
  balanced::state s(balanced_params(r));
  r.power->unplug();
  // Only low-priority requests: wait; any arrival wakes the dispatcher, and it looks again at the recheck.
  pb::decision d = s.decide(view(2, t0(), t0() + 500ms, 2));
  CHECK_FALSE(d.flushes());
  CHECK(d.wake_at_pending == 3);
  CHECK(d.wake_at == pw::align_up(t0() + 500ms + 5s, 32ms));  // tolerance x2 on battery: a 32 ms grid
  // Long past the window: still waiting.
  CHECK_FALSE(s.decide(view(2, t0(), t0() + 3s, 2)).flushes());
  // A normal request joins: the inner policy decides, and the low ones ride along.
  d = s.decide(view(3, t0(), t0() + 3s, 2));
  CHECK(d.flush_count == 3);
  CHECK(d.reason == pb::flush_reason::delay);
  // A full batch of low priority runs: the cheapest way to run them, and the queue must not fill.
  d = s.decide(view(32, t0(), t0() + 3s, 32));
  CHECK(d.flush_count == 32);
  CHECK(d.reason == pb::flush_reason::size);
  // A deadline forces them out in time.
  pb::lane_view v = view(2, t0(), t0() + 3s, 2);
  v.earliest_deadline = t0() + 4s;
  d = s.decide(v);
  CHECK(d.wake_at == t0() + 4s - pb::timeout::default_deadline_margin);
  v.now = d.wake_at;
  d = s.decide(v);
  CHECK(d.flush_count == 2);
  CHECK(d.reason == pb::flush_reason::deadline);
  // Charging: released at the next decision after the next sensor read.
  r.power->plug_in();
  d = s.decide(view(2, t0(), t0() + 5s, 2));
  CHECK(d.flush_count == 2);
  CHECK(d.reason == pb::flush_reason::delay);
}

TEST_CASE("On battery the tolerance widens; max_performance ignores the power source", "[profiles][power_source]") {
  rig r;
  r.power->unplug();
  balanced::state s(balanced_params(r));
  // due t0 + 20 ms, tolerance 200 ms on a 32 ms grid: the last tick at or before t0 + 220 ms.
  CHECK(s.decide(view(1, t0(), t0())).wake_at == t0() + 192ms);
  pw::max_performance<pb::timeout::size_or_delay>::params mp;
  mp.inner.max_delay = 20ms;
  mp.env = r.env;
  pw::max_performance<pb::timeout::size_or_delay>::state fast(mp);
  CHECK(fast.decide(view(1, t0(), t0())).wake_at == t0() + 20ms);
  CHECK(fast.decide(view(2, t0(), t0() + 1s, 2)).flush_count == 2);
}

TEST_CASE("Every profile is a Timeout policy over every built-in one", "[profiles]") {
  STATIC_REQUIRE(pb::timeout_policy<pw::max_performance<pb::timeout::size_or_delay>>);
  STATIC_REQUIRE(pb::timeout_policy<pw::balanced<pb::timeout::latency_target>>);
  STATIC_REQUIRE(pb::timeout_policy<pw::power_saver<pb::timeout::size_or_delay>>);
  STATIC_REQUIRE(pb::timeout_policy<pw::ultra_efficient<pb::timeout::size_or_delay>>);
  STATIC_REQUIRE(pb::timeout_policy<pw::thermal_aware<pb::timeout::size_or_delay>>);
  STATIC_REQUIRE(pb::timeout_policy<pw::custom<pb::timeout::size_or_delay>>);
  STATIC_REQUIRE(pb::timeout_policy<pw::default_profile<pb::timeout::size_or_delay>>);
  STATIC_REQUIRE(pb::learns_from_feedback<pw::balanced<pb::timeout::latency_target>::state>);
  CHECK(pw::balanced<pb::timeout::size_or_delay>::name == "balanced");
}
