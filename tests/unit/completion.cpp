// detail::completion, the type-erased handler every request carries: moved three times on the hot path (into the
// queue, the dispatcher's slab, a batch). A handler that is plain data and one that owns a resource both run exactly
// once and are destroyed exactly once, whichever way the completion was moved; a handler kept inline costs its
// allocator nothing, and one that cannot be (over-aligned) lives on its allocator and is given back once.
#include <powerbatch/detail/completion.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace pb = powerbatch;

namespace {

struct counting_callback {  // plain data
  int* calls;
  int* last_value;
  void operator()(std::error_code error, int value) const {
    ++*calls;
    *last_value = error ? -1 : value;
  }
};
static_assert(std::is_trivially_copyable_v<counting_callback>);

// Plain data wider than 16 bytes: moved by its move constructor, not as the first 16 bytes.
struct wide_counting_callback {
  int* calls;
  int* last_value;
  long long salt[4];
  void operator()(std::error_code error, int value) const {
    ++*calls;
    *last_value = error ? -1 : value + static_cast<int>(salt[0] + salt[1] + salt[2] + salt[3]);
  }
};
static_assert(std::is_trivially_copyable_v<wide_counting_callback> && sizeof(wide_counting_callback) > 16);

struct owning_callback {  // owns a resource
  std::shared_ptr<int> calls;
  void operator()(std::error_code, int value) const { *calls += value; }
};
static_assert(!std::is_trivially_copyable_v<owning_callback>);

template <class C>
C move_around(C first) {
  C second(std::move(first));
  CHECK(first.empty());
  C third;
  third = std::move(second);
  CHECK(second.empty());
  C fourth(std::move(third));
  CHECK(third.empty());
  return fourth;
}

}  // namespace

TEST_CASE("completion: a trivially copyable callback survives moves and runs once", "[completion]") {
  int calls = 0, last_value = 0;
  SECTION("16 bytes") {
    pb::detail::completion<int> c;
    c.emplace(counting_callback{&calls, &last_value}, nullptr, nullptr, nullptr);
    auto moved = move_around(std::move(c));
    REQUIRE_FALSE(moved.empty());
    CHECK(calls == 0);
    moved.complete({}, 41, {}, nullptr);
    CHECK(last_value == 41);
    CHECK(moved.empty());
  }
  SECTION("48 bytes") {
    pb::detail::completion<int> c;
    c.emplace(wide_counting_callback{&calls, &last_value, {1, 20, 300, 4000}}, nullptr, nullptr, nullptr);
    auto moved = move_around(std::move(c));
    REQUIRE_FALSE(moved.empty());
    CHECK(calls == 0);
    moved.complete({}, 41, {}, nullptr);
    CHECK(last_value == 41 + 4321);  // every byte of the callback arrived
    CHECK(moved.empty());
  }
  CHECK(calls == 1);
}

TEST_CASE("completion: a callback that owns a resource survives moves, runs once and is destroyed once",
          "[completion]") {
  auto calls = std::make_shared<int>(0);
  {
    pb::detail::completion<int> c;
    c.emplace(owning_callback{calls}, nullptr, nullptr, nullptr);
    CHECK(calls.use_count() == 2);
    auto moved = move_around(std::move(c));
    CHECK(calls.use_count() == 2);  // one handler, wherever it went
    moved.complete({}, 7, {}, nullptr);
    CHECK(*calls == 7);
    CHECK(calls.use_count() == 1);  // released by completing
  }
  {
    pb::detail::completion<int> never_completed;  // a program tearing down with work queued: no leak
    never_completed.emplace(owning_callback{calls}, nullptr, nullptr, nullptr);
    auto moved = move_around(std::move(never_completed));
    CHECK(calls.use_count() == 2);
  }
  CHECK(calls.use_count() == 1);
  CHECK(*calls == 7);
}

namespace {

struct allocation_counts {
  int allocations = 0;
  int deallocations = 0;
};

// The allocator a handler names as its associated allocator: completion must use it for a box it cannot keep inline.
template <class T>
struct counting_allocator {
  using value_type = T;
  allocation_counts* counts;
  explicit counting_allocator(allocation_counts* c) noexcept : counts(c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept : counts(other.counts) {}
  T* allocate(std::size_t n) {
    ++counts->allocations;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ++counts->deallocations;
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const counting_allocator<U>& other) const noexcept {
    return counts == other.counts;
  }
};

template <std::size_t Alignment>
struct allocator_aware_callback {
  using allocator_type = counting_allocator<void>;
  alignas(Alignment) int* calls;
  allocation_counts* counts;
  allocator_type get_allocator() const noexcept { return allocator_type(counts); }
  void operator()(std::error_code, int value) const { *calls += value; }
};

template <std::size_t Alignment>
void run_moved_callback(int& calls, allocation_counts& counts) {
  pb::detail::completion<int> c;
  c.emplace(allocator_aware_callback<Alignment>{&calls, &counts}, nullptr, nullptr, nullptr);
  auto moved = move_around(std::move(c));
  moved.complete({}, 5, {}, nullptr);
}

}  // namespace

TEST_CASE("completion: a small handler stays inline; an over-aligned one uses its allocator, once", "[completion]") {
  int calls = 0;
  allocation_counts inline_counts;
  run_moved_callback<alignof(void*)>(calls, inline_counts);
  CHECK(calls == 5);
  CHECK(inline_counts.allocations == 0);
  CHECK(inline_counts.deallocations == 0);

  allocation_counts heap_counts;
  run_moved_callback<2 * alignof(void*)>(calls, heap_counts);  // more than the inline storage's alignment
  CHECK(calls == 10);
  CHECK(heap_counts.allocations == 1);
  CHECK(heap_counts.deallocations == 1);  // given back before the upcall, and only once after three moves
}
