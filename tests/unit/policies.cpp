// Priority and Timeout policies on their own, and the learning policies inside a batcher on the manual clock.
#include "test_support.hpp"

#include <powerbatch/detail/waiting_deadlines.hpp>

#include <catch2/catch.hpp>

using namespace pbtest;

namespace {

pb::time_point t0() { return pb::time_point(std::chrono::hours(1)); }

pb::pending_entry entry(std::uint32_t slot, pb::priority_level p, pb::duration arrived_after,
                        pb::time_point deadline = pb::time_point::max()) {
  return pb::pending_entry{slot, p, t0() + arrived_after, deadline, slot};
}

template <class Container>
std::vector<std::uint32_t> drain(Container& c, pb::time_point now) {
  std::vector<std::uint32_t> order;
  while (!c.empty()) order.push_back(c.pop(now).slot);
  return order;
}

pb::lane_view view(std::size_t pending, pb::duration waited, pb::duration since_start = {}) {
  pb::lane_view v;
  v.pending = pending;
  v.oldest_arrival = t0() + since_start;
  v.now = v.oldest_arrival + waited;
  return v;
}

}  // namespace

TEST_CASE("fifo ignores priority and keeps arrival order", "[priority]") {
  pb::priority::fifo::container<pb::pending_entry> c{{}};
  c.push(entry(0, 2, 0us));
  c.push(entry(1, 0, 1us));
  c.push(entry(2, 1, 2us));
  CHECK(c.oldest_arrival() == t0());
  CHECK(drain(c, t0()) == std::vector<std::uint32_t>{0, 1, 2});
}

TEST_CASE("strict levels serve high, then normal, then low, FIFO within a level", "[priority]") {
  pb::priority::strict_levels<3>::container<pb::pending_entry> c{{}};
  c.push(entry(0, 2, 0us));
  c.push(entry(1, 1, 1us));
  c.push(entry(2, 0, 2us));
  c.push(entry(3, 1, 3us));
  c.push(entry(4, 7, 4us));  // beyond the last level: treated as low
  CHECK(c.size() == 5);
  CHECK(c.oldest_arrival() == t0());
  CHECK(drain(c, t0() + 1h) == std::vector<std::uint32_t>{2, 1, 3, 0, 4});
}

TEST_CASE("strict levels let a flood of urgent work starve low priority; aging does not", "[priority]") {
  pb::priority::strict_levels<3>::container<pb::pending_entry> strict{{}};
  pb::priority::aging<3>::container<pb::pending_entry> aged{{10ms}};
  strict.push(entry(100, 2, 0ms));
  aged.push(entry(100, 2, 0ms));
  // One high-priority request arrives every ms and one leaves every ms, for 40 ms.
  int strict_served_low_at = -1, aged_served_low_at = -1;
  for (int ms = 1; ms <= 40; ++ms) {
    strict.push(entry(static_cast<std::uint32_t>(ms), 0, std::chrono::milliseconds(ms)));
    aged.push(entry(static_cast<std::uint32_t>(ms), 0, std::chrono::milliseconds(ms)));
    const auto now = t0() + std::chrono::milliseconds(ms);
    if (strict.pop(now).slot == 100) strict_served_low_at = ms;
    if (aged.pop(now).slot == 100 && aged_served_low_at < 0) aged_served_low_at = ms;
  }
  CHECK(strict_served_low_at == -1);
  // Two levels below high: promoted after 2 x 10 ms of waiting, and a tie goes to the higher level, so it leaves
  // once it has waited at least 20 ms and the high request in front of it is younger.
  CHECK(aged_served_low_at >= 20);
  CHECK(aged_served_low_at <= 31);
}

TEST_CASE("earliest deadline first; undated requests follow, oldest first", "[priority]") {
  pb::priority::earliest_deadline::container<pb::pending_entry> c{{}};
  c.push(entry(0, 1, 0us));
  c.push(entry(1, 1, 1us, t0() + 50ms));
  c.push(entry(2, 1, 2us, t0() + 10ms));
  c.push(entry(3, 1, 3us));
  c.push(entry(4, 1, 4us, t0() + 30ms));
  CHECK(c.oldest_arrival() == t0());
  CHECK(c.pop(t0()).slot == 2);
  CHECK(c.oldest_arrival() == t0());
  CHECK(drain(c, t0()) == std::vector<std::uint32_t>{4, 1, 0, 3});
}

TEST_CASE("earliest deadline tracks the oldest arrival through pops and erasures", "[priority]") {
  pb::priority::earliest_deadline::container<pb::pending_entry> c{{}};
  c.push(entry(0, 1, 5us, t0() + 1ms));
  c.push(entry(1, 1, 9us, t0() + 2ms));
  c.push(entry(2, 1, 7us, t0() + 3ms));
  CHECK(c.oldest_arrival() == t0() + 5us);
  CHECK(c.pop(t0()).slot == 0);
  CHECK(c.oldest_arrival() == t0() + 7us);
  std::vector<std::uint32_t> erased;
  c.erase_if([](const pb::pending_entry& e) { return e.slot == 2; },
             [&](const pb::pending_entry& e) { erased.push_back(e.slot); });
  CHECK(erased == std::vector<std::uint32_t>{2});
  CHECK(c.size() == 1);
  CHECK(c.oldest_arrival() == t0() + 9us);
}

TEST_CASE("erase_if keeps the order of what stays", "[priority]") {
  pb::priority::strict_levels<2>::container<pb::pending_entry> c{{}};
  for (std::uint32_t i = 0; i < 8; ++i) c.push(entry(i, static_cast<pb::priority_level>(i % 2), std::chrono::microseconds(i)));
  std::size_t erased = 0;
  c.erase_if([](const pb::pending_entry& e) { return e.slot % 3 == 0; }, [&](const pb::pending_entry&) { ++erased; });
  CHECK(erased == 3);
  CHECK(drain(c, t0()) == std::vector<std::uint32_t>{2, 4, 1, 5, 7});
}

TEMPLATE_TEST_CASE("pop_up_to gives what as many pop() calls would, across the rings' wrap-around", "[priority]",
                   pb::priority::fifo, pb::priority::strict_levels<3>) {
  using container = typename TestType::template container<pb::pending_entry>;
  STATIC_REQUIRE(pb::bulk_poppable_priority_container<container>);
  container bulk{{}}, single{{}};
  std::uint32_t next_slot = 0;
  auto push = [&](int n) {
    for (int i = 0; i < n; ++i, ++next_slot) {
      const auto level = static_cast<pb::priority_level>(next_slot * 7 % 4);
      const auto e = entry(next_slot, level, std::chrono::microseconds(next_slot));
      bulk.push(e);
      single.push(e);
    }
  };
  auto take = [&](std::size_t n) {
    std::vector<pb::pending_entry> taken;
    const std::size_t count = bulk.pop_up_to(n, t0(), taken);
    std::vector<std::uint32_t> from_bulk, from_single;
    for (const pb::pending_entry& e : taken) from_bulk.push_back(e.slot);
    while (from_single.size() < n && !single.empty()) from_single.push_back(single.pop(t0()).slot);
    CHECK(count == taken.size());
    CHECK(from_bulk == from_single);
    CHECK(bulk.size() == single.size());
  };
  // The rings start at 16 entries: these pushes and pops move their heads round the end of the storage.
  push(12);
  take(10);
  push(13);
  take(0);
  take(5);
  push(3);
  take(7);
  push(9);
  take(100);  // more than there are
  CHECK(bulk.empty());
}

TEST_CASE("size_or_delay: size, then window from the oldest arrival, then deadline", "[timeout]") {
  pb::timeout::size_or_delay::state s{{8, 2ms, 100us}};
  CHECK(s.decide(view(8, 0us)).flush_count == 8);
  CHECK(s.decide(view(20, 0us)).flush_count == 8);
  const auto wait = s.decide(view(3, 500us));
  CHECK_FALSE(wait.flushes());
  CHECK(wait.wake_at == t0() + 2ms);
  CHECK(wait.wake_at_pending == 8);
  const auto late = s.decide(view(3, 2ms));
  CHECK(late.flush_count == 3);
  CHECK(late.reason == pb::flush_reason::delay);
  auto v = view(3, 500us);
  v.earliest_deadline = v.now + 100us;
  CHECK(s.decide(v).reason == pb::flush_reason::deadline);
  v.earliest_deadline = v.now + 300us;
  CHECK(s.decide(v).wake_at == v.now + 200us);
  v.max_batch_size = 2;  // a backend or power cap wins over the policy's size
  CHECK(s.decide(v).flush_count == 2);
}

TEST_CASE("preferred_sizes flushes the largest preferred size, and after the window the best fit", "[timeout]") {
  pb::timeout::preferred_sizes::params p;
  p.sizes = {4, 16, 8};
  p.max_batch_size = 32;
  p.max_delay = 1ms;
  pb::timeout::preferred_sizes::state s{p};
  CHECK(s.decide(view(16, 0us)).flush_count == 16);
  CHECK(s.decide(view(20, 0us)).flush_count == 16);
  const auto wait = s.decide(view(9, 10us));
  CHECK_FALSE(wait.flushes());
  CHECK(wait.wake_at_pending == 16);
  CHECK(s.decide(view(9, 1ms)).flush_count == 8);
  CHECK(s.decide(view(3, 1ms)).flush_count == 3);  // no preferred size fits: all of it
  auto capped = view(9, 0us);
  capped.max_batch_size = 6;
  CHECK(s.decide(capped).flush_count == 4);
}

TEST_CASE("latency_target's online fit recovers t(n) = a*n + b", "[timeout]") {
  pb::timeout::latency_target::state s{{}};
  for (int round = 0; round < 50; ++round)
    for (std::size_t n : {1, 4, 16, 32})
      s.on_batch_complete({n, std::chrono::microseconds(30 * n + 500), {}, false});
  CHECK(s.fit().slope() == Approx(30'000.0).epsilon(0.01));      // ns per item
  CHECK(s.fit().intercept() == Approx(500'000.0).epsilon(0.01));  // ns
  CHECK(s.predicted(10) == std::chrono::microseconds(800));
  s.on_batch_complete({8, 1s, {}, true});  // failed batches are not evidence
  CHECK(s.predicted(10) == std::chrono::microseconds(800));
}

TEST_CASE("latency_target waits only while the oldest request can still meet the target", "[timeout]") {
  pb::timeout::latency_target::params p;
  p.target_latency = 10ms;
  p.max_wait = 8ms;
  p.max_batch_size = 64;
  p.prior_per_item = 100us;
  p.prior_fixed = 1ms;
  pb::timeout::latency_target::state s{p};
  // 4 waiting: t(5) = 1.5 ms, so the oldest may wait until 10 - 1.5 = 8.5 ms, capped by max_wait = 8 ms.
  CHECK(s.decide(view(4, 1ms)).wake_at == t0() + 8ms);
  // 40 waiting: t(41) = 5.1 ms, so waiting beyond 4.9 ms would make the oldest late.
  CHECK(s.decide(view(40, 1ms)).wake_at == t0() + 4900us);
  CHECK(s.decide(view(40, 4900us)).flush_count == 40);
}

TEST_CASE("aimd grows the batch while it meets the objective and backs off when it does not", "[timeout]") {
  pb::timeout::aimd::params p;
  p.latency_objective = 5ms;
  p.initial_batch_size = 4;
  p.max_batch_size = 64;
  pb::timeout::aimd::state s{p};
  for (int i = 0; i < 10; ++i) s.on_batch_complete({s.current_limit(), 1ms, {}, false});
  CHECK(s.current_limit() == 14);
  s.on_batch_complete({14, 6ms, {}, false});
  CHECK(s.current_limit() == 12);  // 14 x 0.9 = 12.6
  s.on_batch_complete({3, 1ms, {}, false});  // a partial batch says nothing about a larger one
  CHECK(s.current_limit() == 12);
  CHECK(s.decide(view(12, 0us)).flush_count == 12);
}

TEST_CASE("latency_target inside a batcher learns the backend's cost on the manual clock", "[timeout][batcher]") {
  manual_loop loop;
  recording_backend backend;
  // The backend "takes" 100 us per item + 1 ms: it moves the manual clock while it runs.
  backend.log->on_batch = [](const std::vector<int>& ids) {
    pb::manual_clock::advance(std::chrono::microseconds(100 * ids.size()) + 1ms);
  };
  using batcher = pb::Batcher<pb::queue::moodycamel, pb::timeout::latency_target, pb::priority::fifo, recording_backend,
                              pb::manual_clock>;
  batcher::config cfg;
  cfg.timeout.target_latency = 10ms;
  cfg.timeout.max_wait = 50ms;
  cfg.timeout.max_batch_size = 128;
  cfg.timeout.prior_per_item = 1us;  // a wrong prior, so the fit has to learn
  cfg.timeout.prior_fixed = 1us;
  batcher b(loop.context.get_executor(), backend, cfg);
  // A steady load: 10 requests per ms for 200 ms.
  int id = 0;
  for (int ms = 0; ms < 200; ++ms) {
    for (int k = 0; k < 10; ++k) b.async_submit({id}, loop.recorder(id)), ++id;
    loop.advance(1ms);
  }
  loop.advance(100ms);
  CHECK(loop.count({}) == 2000);
  // Once learned, batches start early enough: t(n) = 0.1 n + 1 ms within a 10 ms target gives n around 40.
  const auto batches = backend.log->snapshot();
  REQUIRE(batches.size() > 10);
  const auto& late = batches[batches.size() - 3];
  CHECK(late.size() >= 20);
  CHECK(late.size() <= 90);
}

TEST_CASE("waiting_deadlines: the earliest deadline still waiting, however requests leave", "[deadline]") {
  pb::detail::waiting_deadlines heap;
  std::vector<std::uint64_t> filed(64, pb::detail::waiting_deadlines::no_entry);
  std::uint64_t sequence = 0;
  auto at = [](int ms) { return t0() + std::chrono::milliseconds(ms); };
  CHECK(heap.earliest(filed) == pb::time_point::max());

  // Filed out of order; the earliest leaves first, then one from the middle, then the rest.
  const int deadlines[] = {30, 10, 20, 40};
  for (std::uint32_t slot = 0; slot < 4; ++slot) heap.add(at(deadlines[slot]), slot, sequence++, filed);
  CHECK(heap.earliest(filed) == at(10));
  heap.remove(1, filed);
  CHECK(heap.earliest(filed) == at(20));
  heap.remove(0, filed);  // not the earliest: it stays until the earliest goes
  CHECK(heap.earliest(filed) == at(20));
  heap.remove(2, filed);
  CHECK(heap.earliest(filed) == at(40));

  // A freed slot taken by a later request: the old mark for it is dead, whatever its deadline.
  heap.add(at(50), 1, sequence++, filed);
  CHECK(heap.earliest(filed) == at(40));
  heap.remove(3, filed);
  CHECK(heap.earliest(filed) == at(50));
  heap.remove(1, filed);
  CHECK(heap.live() == 0);
  CHECK(heap.earliest(filed) == pb::time_point::max());
  CHECK(heap.marks() == 0);

  // Many departures of requests that never reach the top (the earliest stays): dead marks do not pile up.
  heap.add(at(1), 0, sequence++, filed);
  for (int round = 0; round < 1000; ++round) {
    const auto slot = static_cast<std::uint32_t>(1 + round % 60);
    heap.add(at(1000 + round), slot, sequence++, filed);
    heap.remove(slot, filed);
    CHECK(heap.marks() <= 2 * (heap.live() + 1) + 32);  // the rebuild bound, as it stood before this departure
  }
  CHECK(heap.live() == 1);
  CHECK(heap.earliest(filed) == at(1));
}
