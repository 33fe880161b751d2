// grouped_admission on its own: credits (capacity), the triggers' pigeonhole promise, closing; then the counter's
// ordered read across threads.
#include <powerbatch/detail/counter_order.hpp>
#include <powerbatch/detail/grouped_admission.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace pb = powerbatch;

namespace {

constexpr unsigned groups = 4;
using admission = pb::detail::grouped_admission<groups>;

// Admits one request in `group`; returns its count, or 0 if refused (a group's counts start at 1).
std::uint32_t admit_one(admission& a, unsigned group, std::optional<pb::errc>* refusal = nullptr) {
  const auto r = a.admit(group, 1);
  if (refusal) *refusal = r.refusal;
  return r.refusal ? 0 : r.count;
}

}  // namespace

TEST_CASE("grouped_admission admits exactly capacity, whichever groups ask", "[admission]") {
  admission a(64);  // chunks of 4
  std::optional<pb::errc> refusal;
  // Group 0 takes a chunk and uses one credit: three stay stranded in its word.
  REQUIRE(admit_one(a, 0) == 1);
  CHECK(a.outstanding() == 1);
  // Group 1 takes the rest: at the pool's end it takes back group 0's stranded credits.
  int admitted = 0;
  while (admit_one(a, 1, &refusal) != 0) ++admitted;
  CHECK(admitted == 63);
  CHECK(refusal == pb::errc::queue_full);
  CHECK(a.outstanding() == 64);
  CHECK(admit_one(a, 0, &refusal) == 0);
  CHECK(refusal == pb::errc::queue_full);

  // Credits come back from requests that left (the dispatcher) or never reached the queue (undo).
  a.give_back(2);
  CHECK(a.outstanding() == 62);
  CHECK(admit_one(a, 2) == 1);
  CHECK(admit_one(a, 3) == 1);
  CHECK(admit_one(a, 3, &refusal) == 0);
  CHECK_FALSE(a.undo(3, 1));  // open: no wake-up needed
  CHECK(a.outstanding() == 63);
  CHECK(admit_one(a, 0) == 2);
}

TEST_CASE("grouped_admission admits a whole batch or none of it", "[admission]") {
  admission a(16);
  auto r = a.admit(0, 17);
  CHECK(r.refusal == pb::errc::queue_full);
  CHECK(a.outstanding() == 0);
  r = a.admit(1, 10);
  REQUIRE_FALSE(r.refusal);
  CHECK(r.count == 10);
  r = a.admit(2, 7);
  CHECK(r.refusal == pb::errc::queue_full);
  CHECK(a.outstanding() == 10);
  r = a.admit(2, 6);
  REQUIRE_FALSE(r.refusal);
  CHECK(a.outstanding() == 16);
}

TEST_CASE("grouped_admission refuses with shutting_down once closed, and counts what is still out", "[admission]") {
  admission a(64);
  CHECK_FALSE(a.all_given_back());  // every credit is home, but a shutdown's test waits for close()
  REQUIRE(admit_one(a, 0) == 1);
  REQUIRE(admit_one(a, 1) == 1);
  a.close();
  CHECK_FALSE(a.all_given_back());
  std::optional<pb::errc> refusal;
  CHECK(admit_one(a, 0, &refusal) == 0);  // credits at hand, but closed
  CHECK(refusal == pb::errc::shutting_down);
  CHECK(admit_one(a, 2, &refusal) == 0);  // no credits: the pool is closed too
  CHECK(refusal == pb::errc::shutting_down);
  CHECK(a.outstanding() == 2);
  CHECK(a.undo(1, 1));  // closed: the dispatcher must look again
  CHECK(a.outstanding() == 1);
  CHECK_FALSE(a.all_given_back());
  a.give_back(1);
  CHECK(a.outstanding() == 0);
  CHECK(a.all_given_back());
}

TEST_CASE("grouped_admission's triggers: `needed` new admissions wake the dispatcher, in whatever groups they come",
          "[admission]") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    admission a(4096);
    // Some history, so that weights and counts differ between groups.
    std::uniform_int_distribution<unsigned> group_of(0, groups - 1), burst(0, 40);
    std::vector<std::uint32_t> counts(groups, 0);
    for (unsigned g = 0; g < groups; ++g)
      for (unsigned i = burst(rng); i-- > 0;) counts[g] = admit_one(a, g);
    std::uint32_t total = 0;
    for (std::uint32_t c : counts) total += c;
    // The dispatcher drained all but `undrained` of them (their producers are between admission and push).
    const std::uint32_t undrained =
        std::min(total, static_cast<std::uint32_t>(std::uniform_int_distribution<int>(0, 3)(rng)));
    const std::uint32_t drained = total - undrained;
    const std::uint64_t needed = std::uniform_int_distribution<std::uint64_t>(1, 100)(rng);
    const bool not_yet = a.publish(drained, needed);
    CHECK(not_yet == (needed > undrained));
    if (!not_yet) continue;
    REQUIRE_FALSE(a.recheck());
    // Arrivals in random groups: no wake-up may be missed once `needed` arrived beyond what was undrained.
    std::uint64_t arrived = 0;
    bool woke = false;
    while (!woke) {
      const unsigned g = group_of(rng);
      const std::uint32_t count = admit_one(a, g);
      REQUIRE(count != 0);
      ++arrived;
      woke = a.wakes(g, count);
      REQUIRE(arrived + undrained <= needed);
    }
    CHECK(a.recheck());
  }
}

TEST_CASE("grouped_admission's triggers: one busy group wakes the dispatcher once per batch, exactly at its size",
          "[admission]") {
  admission a(4096);
  std::uint32_t drained = 0, count = 0;
  // The first arrival after idle: any arrival matters.
  REQUIRE(a.publish(drained, 1));
  count = admit_one(a, 2);
  CHECK(a.wakes(2, count));
  for (int batch = 0; batch < 5; ++batch) {
    drained = count;  // the dispatcher drained everything
    REQUIRE(a.publish(drained, 32));
    for (int i = 1; i < 32; ++i) {
      count = admit_one(a, 2);
      REQUIRE_FALSE(a.wakes(2, count));
    }
    count = admit_one(a, 2);
    CHECK(a.wakes(2, count));
  }
  // unlimited: no admission wakes it.
  drained = count;
  REQUIRE(a.publish(drained, admission::unlimited));
  for (int i = 0; i < 1000; ++i) {
    count = admit_one(a, 1);
    REQUIRE_FALSE(a.wakes(1, count));
  }
  CHECK_FALSE(a.recheck());
}

TEST_CASE("grouped_admission: concurrent groups never admit more than capacity", "[admission][threads]") {
  // Group 3 holds 10 of 16 credits throughout; three threads, in groups 0-2, each want up to 8 out at once. So each
  // is refused now and then even if it runs alone, and together they run dry, take chunks and take back each other's
  // stranded credits, concurrently.
  constexpr int capacity = 16, held_by_group_3 = 10;
  admission a(capacity);
  REQUIRE_FALSE(a.admit(3, held_by_group_3).refusal);
  std::atomic<int> out{held_by_group_3}, most{held_by_group_3}, refused{0};
  auto producer = [&](unsigned g) {
    std::uint32_t held = 0;
    std::mt19937 rng(g);
    for (int i = 0; i < 100000; ++i) {
      if (held < 8 && rng() % 4 != 0) {
        if (a.admit(g, 1).refusal) {
          refused.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        ++held;
        const int now = out.fetch_add(1) + 1;
        for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
        }
      } else if (held > 0) {
        --held;
        out.fetch_sub(1);
        a.undo(g, 1);
      }
    }
    out.fetch_sub(static_cast<int>(held));
    if (held) a.undo(g, held);
  };
  std::vector<std::thread> threads;
  for (unsigned g = 0; g < 3; ++g) threads.emplace_back(producer, g);
  for (auto& t : threads) t.join();
  CHECK(most.load() <= capacity);
  CHECK(refused.load() > 0);
  CHECK(a.outstanding() == static_cast<std::size_t>(held_by_group_3));
}

TEST_CASE("counter_order: a read that happens after another thread's read is later", "[admission][threads]") {
  if (!pb::detail::counter_order::trusted()) {
    WARN("this machine's counter does not order reads across cores (not an invariant TSC used as clocksource)");
    return;
  }
  // Two threads take turns: each reads the counter, then hands the turn over. Every read must be later than the
  // one before it, on whichever core.
  constexpr int turns = 20000;
  std::vector<std::uint64_t> reads(turns);
  std::atomic<int> turn{0};
  auto player = [&](int who) {
    for (int t = who; t < turns; t += 2) {
      while (turn.load(std::memory_order_acquire) != t) {
      }
      reads[static_cast<std::size_t>(t)] = pb::detail::counter_order::read();
      turn.store(t + 1, std::memory_order_release);
    }
  };
  std::thread a(player, 0), b(player, 1);
  a.join();
  b.join();
  int backwards = 0;
  for (std::size_t t = 1; t < reads.size(); ++t) backwards += reads[t] <= reads[t - 1];
  CHECK(backwards == 0);
}
