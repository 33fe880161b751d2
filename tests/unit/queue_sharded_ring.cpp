// queue::sharded_ring on its own: order, wrap-around, capacity, overflow into other rings, element lifetimes, a
// throwing move, and many producers against one consumer (run under ThreadSanitizer by the tsan build).
#include <powerbatch/queue/sharded_ring.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace pb = powerbatch;

namespace {

// Counts live objects, so tests can see that the queue destroys what it holds exactly once.
struct tracked {
  static inline std::atomic<int> live{0};
  int value = -1;
  std::unique_ptr<std::string> payload;  // a real resource: a leak or double free shows under ASan

  tracked() { ++live; }
  explicit tracked(int v) : value(v), payload(std::make_unique<std::string>(std::to_string(v))) { ++live; }
  tracked(tracked&& other) noexcept : value(std::exchange(other.value, -1)), payload(std::move(other.payload)) {
    ++live;
  }
  tracked& operator=(tracked&& other) noexcept {
    value = std::exchange(other.value, -1);
    payload = std::move(other.payload);
    return *this;
  }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked() { --live; }
};

// A move constructor that throws when asked to.
struct fragile {
  int value = 0;
  bool throw_on_move = false;
  fragile() = default;
  fragile(int v, bool t) : value(v), throw_on_move(t) {}
  fragile(fragile&& other) : value(other.value), throw_on_move(other.throw_on_move) {  // NOLINT: may throw
    if (throw_on_move) throw std::runtime_error("move failed");
  }
  fragile& operator=(fragile&& other) noexcept {
    value = other.value;
    throw_on_move = other.throw_on_move;
    return *this;
  }
};

template <class Queue>
std::vector<int> pop_all(Queue& q) {
  std::vector<tracked> out;
  while (q.try_pop_bulk(std::back_inserter(out), 3) > 0) {
  }
  std::vector<int> values;
  for (const auto& t : out) values.push_back(t.value);
  return values;
}

}  // namespace

TEST_CASE("sharded_ring: one producer's elements come out in order, across many laps of the ring", "[queue]") {
  pb::queue::sharded_ring<4>::queue<tracked> q(4);
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 250; ++round) {
    for (int i = 0; i < 3; ++i) REQUIRE(q.try_push(tracked(next_in++)));
    tracked t;
    REQUIRE(q.try_pop(t));
    CHECK(t.value == next_out++);
    CHECK(*t.payload == std::to_string(t.value));
    std::vector<tracked> rest;
    CHECK(q.try_pop_bulk(std::back_inserter(rest), 10) == 2);
    for (const auto& r : rest) CHECK(r.value == next_out++);
  }
  tracked none;
  CHECK_FALSE(q.try_pop(none));
  CHECK(next_out == 750);
}

TEST_CASE("sharded_ring: a full home ring spills into the others; all full refuses without taking the element",
          "[queue]") {
  // Capacity 3 rounds up to 4 per ring: 8 places in two rings.
  pb::queue::sharded_ring<2>::queue<tracked> q(3);
  for (int i = 0; i < 8; ++i) REQUIRE(q.try_push(tracked(i)));
  tracked refused(99);
  CHECK_FALSE(q.try_push(std::move(refused)));
  CHECK(refused.value == 99);  // not moved from
  REQUIRE(refused.payload);

  std::vector<int> values = pop_all(q);
  std::sort(values.begin(), values.end());
  CHECK(values == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  REQUIRE(q.try_push(std::move(refused)));  // room again
  CHECK(pop_all(q) == std::vector<int>{99});

  using huge = pb::queue::sharded_ring<2>::queue<tracked>;
  CHECK_THROWS_AS(huge(std::numeric_limits<std::size_t>::max()), std::bad_alloc);  // no power of two that large
  CHECK_THROWS_AS(huge(std::size_t{1} << 60), std::bad_alloc);                    // more bytes than exist
}

TEST_CASE("sharded_ring: bulk pop stops at max and resumes where it stopped", "[queue]") {
  pb::queue::sharded_ring<1>::queue<tracked> q(16);
  for (int i = 0; i < 10; ++i) REQUIRE(q.try_push(tracked(i)));
  std::vector<tracked> out;
  CHECK(q.try_pop_bulk(std::back_inserter(out), 4) == 4);
  CHECK(q.try_pop_bulk(std::back_inserter(out), 0) == 0);
  CHECK(q.try_pop_bulk(std::back_inserter(out), 100) == 6);
  REQUIRE(out.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(out[static_cast<std::size_t>(i)].value == i);
}

TEST_CASE("sharded_ring: elements still queued are destroyed with the queue, once", "[queue]") {
  const int before = tracked::live.load();
  {
    pb::queue::sharded_ring<2>::queue<tracked> q(8);
    for (int i = 0; i < 5; ++i) REQUIRE(q.try_push(tracked(i)));
    tracked t;
    REQUIRE(q.try_pop(t));
    CHECK(tracked::live.load() == before + 5);  // four queued, plus t
  }
  CHECK(tracked::live.load() == before);
}

TEST_CASE("sharded_ring: a move that throws loses its place, not the queue", "[queue]") {
  pb::queue::sharded_ring<1>::queue<fragile> q(4);
  REQUIRE(q.try_push(fragile(1, false)));
  fragile bad(2, true);
  CHECK_THROWS_AS(q.try_push(std::move(bad)), std::runtime_error);
  REQUIRE(q.try_push(fragile(3, false)));
  std::vector<int> values;
  fragile f;
  while (q.try_pop(f)) values.push_back(f.value);
  CHECK(values == std::vector<int>{1, 3});  // the empty place is skipped
  // The next lap runs over the skipped place: all four places take an element again.
  for (int i = 10; i < 14; ++i) REQUIRE(q.try_push(fragile(i, false)));
  CHECK_FALSE(q.try_push(fragile(14, false)));
  values.clear();
  while (q.try_pop(f)) values.push_back(f.value);
  CHECK(values == std::vector<int>{10, 11, 12, 13});
  REQUIRE(q.try_push(fragile(20, false)));
  REQUIRE(q.try_pop(f));
  CHECK(f.value == 20);
}

namespace {
template <std::size_t Bytes, bool NothrowMove>
struct sized_element {
  sized_element() = default;
  sized_element(sized_element&& other) noexcept(NothrowMove) { std::copy_n(other.bytes, Bytes, bytes); }
  sized_element& operator=(sized_element&& other) noexcept(NothrowMove) {
    std::copy_n(other.bytes, Bytes, bytes);
    return *this;
  }
  unsigned char bytes[Bytes]{};
};
static_assert(!std::is_nothrow_move_constructible_v<sized_element<56, false>>);
}  // namespace

TEST_CASE("sharded_ring: a slot is its turn and the element in whole cache lines, plus a flag only for a throwing move",
          "[queue]") {
  // The flag says a throwing move left a slot empty; an element whose move cannot throw needs none, so 56 bytes
  // and the 8-byte turn share one line.
  CHECK(pb::queue::sharded_ring<>::queue<sized_element<56, true>>::slot_bytes == 64);
  CHECK(pb::queue::sharded_ring<>::queue<sized_element<56, false>>::slot_bytes == 128);
  CHECK(pb::queue::sharded_ring<>::queue<sized_element<120, true>>::slot_bytes == 128);
  CHECK(pb::queue::sharded_ring<>::queue<sized_element<8, true>>::slot_bytes == 64);
}

TEST_CASE("sharded_ring: producers sharing rings with a concurrent consumer: each element once, each producer in order",
          "[queue]") {
  // Two rings for four producers, so rings are shared and the tail's CAS is contended. Each ring holds every
  // element, so a producer never spills (spilling may reorder a producer's elements across rings).
  constexpr int producers = 4;
  constexpr int per_producer = 20'000;
  struct element {
    int producer = -1;
    int sequence = -1;
  };
  pb::queue::sharded_ring<2>::queue<element> q(producers * per_producer);
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      ++started;
      while (started.load() < producers) std::this_thread::yield();
      for (int i = 0; i < per_producer; ++i)
        while (!q.try_push(element{p, i})) std::this_thread::yield();
    });

  std::vector<int> next(producers, 0);
  int received = 0, out_of_order = 0, unknown = 0;
  std::vector<element> batch;
  while (received < producers * per_producer) {
    batch.clear();
    if (q.try_pop_bulk(std::back_inserter(batch), 64) == 0) {
      element one;
      if (q.try_pop(one)) batch.push_back(one);
      else std::this_thread::yield();
    }
    for (const element& e : batch) {
      ++received;
      if (e.producer < 0 || e.producer >= producers) {
        ++unknown;
        continue;
      }
      if (e.sequence != next[static_cast<std::size_t>(e.producer)]) ++out_of_order;
      next[static_cast<std::size_t>(e.producer)] = e.sequence + 1;
    }
  }
  for (auto& t : threads) t.join();
  CHECK(unknown == 0);
  CHECK(out_of_order == 0);
  for (int p = 0; p < producers; ++p) CHECK(next[static_cast<std::size_t>(p)] == per_producer);
  element extra;
  CHECK_FALSE(q.try_pop(extra));
}
