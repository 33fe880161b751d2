// compute::Pool<Alloc>: buffers come back zeroed (no batch sees another's data), the byte limit holds and answers
// errc::pool_exhausted, statistics count what happened, any allocator meeting buffer_allocator plugs in, and many
// threads share one pool.
#include <powerbatch/compute/pool.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

namespace pb = powerbatch;
namespace compute = powerbatch::compute;
using Catch::Matchers::Contains;

namespace {

bool all_zero(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  return std::all_of(p, p + bytes, [](unsigned char b) { return b == 0; });
}

// Counts blocks and bytes, and aligns to 128 bytes, so a test can see the pool use it.
struct counting_allocator {
  static constexpr std::size_t alignment = 128;
  std::shared_ptr<std::atomic<long>> live = std::make_shared<std::atomic<long>>(0);
  void* allocate(std::size_t bytes) {
    ++*live;
    return ::operator new(bytes, std::align_val_t{alignment});
  }
  void deallocate(void* block, std::size_t) noexcept {
    --*live;
    ::operator delete(block, std::align_val_t{alignment});
  }
};
static_assert(compute::buffer_allocator<counting_allocator>);

struct no_alignment_allocator {
  void* allocate(std::size_t bytes) { return ::operator new(bytes); }
  void deallocate(void* block, std::size_t) noexcept { ::operator delete(block); }
};
static_assert(!compute::buffer_allocator<no_alignment_allocator>);

}  // namespace

TEST_CASE("pool: a reused buffer holds none of the previous batch's data", "[pool]") {
  compute::Pool<> pool;
  float* first_address = nullptr;
  {
    auto batch = pool.acquire<float>({4, 16});
    REQUIRE(batch.size() == 64);
    CHECK(all_zero(batch.data(), batch.bytes()));
    std::memset(batch.data(), 0xAB, batch.bytes());  // the previous batch's data
    first_address = batch.data();
  }
  auto again = pool.acquire<float>({4, 16});
  CHECK(again.data() == first_address);  // the same memory came back ...
  CHECK(all_zero(again.data(), again.bytes()));  // ... wiped
  const auto stats = pool.stats();
  CHECK(stats.hits == 1);
  CHECK(stats.misses == 1);
}

TEST_CASE("pool: buffers are keyed by shape and element size, and aligned", "[pool]") {
  compute::Pool<> pool;
  auto a = pool.acquire<float>({8, 3});
  auto b = pool.acquire<float>({3, 8});
  CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % compute::simd_alignment == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % compute::simd_alignment == 0);
  CHECK(a.shape().size() == 2);
  CHECK(a.shape()[0] == 8);
  CHECK(b.shape()[0] == 3);
  float* a_address = a.data();
  a.reset();
  CHECK_FALSE(a);
  auto c = pool.acquire<double>({8, 3});  // same shape, wider elements: not the float buffer
  CHECK(static_cast<void*>(c.data()) != static_cast<void*>(a_address));
  auto d = pool.acquire<float>({8, 3});
  CHECK(d.data() == a_address);
  CHECK(pool.stats().hits == 1);
  CHECK(pool.stats().misses == 3);
}

TEST_CASE("pool: the byte limit answers pool_exhausted instead of allocating", "[pool]") {
  compute::Pool<> pool({.max_bytes = 1000});
  auto a = pool.acquire<float>({100});  // 400 bytes
  auto b = pool.acquire<float>({100});  // 800
  try {
    auto c = pool.acquire<float>({100});  // 1200 > 1000
    FAIL("acquire past the limit must throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == pb::errc::pool_exhausted);
    CHECK_THAT(std::string(e.what()), Contains("[100]") && Contains("limit of 1000 bytes"));
  }
  CHECK_THROWS_AS(pool.acquire<float>({300}), std::system_error);  // 1200 bytes: never fits
  auto stats = pool.stats();
  CHECK(stats.rejections == 2);
  CHECK(stats.bytes_leased == 800);
  CHECK(stats.buffers_leased == 2);

  SECTION("shelved buffers of other shapes are freed to make room") {
    b.reset();  // shelved: 400 leased + 400 shelved
    CHECK(pool.stats().bytes_shelved == 400);
    auto c = pool.acquire<float>({150});  // 600: fits only once the shelved 400 go
    stats = pool.stats();
    CHECK(stats.evictions == 1);
    CHECK(stats.bytes_shelved == 0);
    CHECK(stats.bytes_leased == 1000);
    CHECK(stats.peak_bytes == 1000);
  }
}

TEST_CASE("pool: statistics and the per-shape shelf limit", "[pool]") {
  compute::Pool<> pool({.max_shelved_per_shape = 1});
  {
    auto a = pool.acquire<double>({2, 2});
    auto b = pool.acquire<double>({2, 2});
    const auto stats = pool.stats();
    CHECK(stats.buffers_leased == 2);
    CHECK(stats.bytes_leased == 64);
    CHECK(stats.peak_bytes == 64);
  }
  auto stats = pool.stats();
  CHECK(stats.buffers_leased == 0);
  CHECK(stats.buffers_shelved == 1);  // one kept, one freed
  CHECK(stats.evictions == 1);
  CHECK(stats.bytes_shelved == 32);
  pool.trim();
  stats = pool.stats();
  CHECK(stats.buffers_shelved == 0);
  CHECK(stats.bytes_shelved == 0);
  CHECK(stats.evictions == 2);
}

TEST_CASE("pool: leases move; odd shapes", "[pool]") {
  compute::Pool<> pool;
  auto a = pool.acquire<float>({5});
  float* address = a.data();
  compute::Pool<>::lease<float> b = std::move(a);
  CHECK_FALSE(a);
  CHECK(b.data() == address);
  b = pool.acquire<float>({6});  // the old one goes back
  CHECK(pool.stats().buffers_shelved == 1);
  auto scalar = pool.acquire<float>(std::span<const std::size_t>{});
  CHECK(scalar.size() == 1);
  auto empty = pool.acquire<float>({0, 64});
  CHECK(empty.size() == 0);
  const std::size_t too_many[] = {1, 1, 1, 1, 1, 1, 1};
  CHECK_THROWS_AS(pool.acquire<float>(too_many), std::system_error);
}

TEST_CASE("pool: a user allocator plugs in", "[pool]") {
  counting_allocator allocator;
  auto live = allocator.live;
  {
    compute::Pool<counting_allocator> pool({}, allocator);
    auto a = pool.acquire<float>({33});
    CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % 128 == 0);
    auto b = pool.acquire<float>({7});
    CHECK(*live == 2);
  }
  CHECK(*live == 0);  // the pool freed every block through the allocator
}

TEST_CASE("pool: many threads acquire and release at once", "[pool][threads]") {
  constexpr std::size_t limit = 96 * 1024;
  compute::Pool<> pool({.max_bytes = limit, .max_shelved_per_shape = 4});
  constexpr int threads = 4, rounds = 3000;
  std::atomic<int> dirty{0}, rejected{0}, served{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const std::size_t rows = 1 + std::size_t((i * 7 + t) % 64);
        try {
          auto lease = pool.acquire<float>({rows, 64});
          if (!all_zero(lease.data(), lease.bytes())) ++dirty;
          std::fill(lease.data(), lease.data() + lease.size(), float(t + 1));
          ++served;
        } catch (const std::system_error& e) {
          if (e.code() == pb::errc::pool_exhausted) ++rejected;
        }
      }
    });
  for (auto& w : workers) w.join();
  const auto stats = pool.stats();
  CHECK(dirty == 0);
  CHECK(stats.buffers_leased == 0);
  CHECK(stats.bytes_leased == 0);
  CHECK(stats.hits + stats.misses == std::uint64_t(served.load()));
  CHECK(stats.rejections == std::uint64_t(rejected.load()));
  CHECK(stats.peak_bytes <= limit);
  CHECK(stats.hits > 0);
}
