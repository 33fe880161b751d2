// cuda/runtime.hpp and cuda/pinned_allocator.hpp: streams, events, device memory, the device guard and pinned
// host memory (alone and under compute::Pool). Without a GPU each must fail with CUDA's "no device" error and
// leave nothing behind; with one, they must work.
#include <powerbatch/compute/pool.hpp>
#include <powerbatch/cuda/pinned_allocator.hpp>
#include <powerbatch/cuda/runtime.hpp>

#include "gpu.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace cuda = powerbatch::cuda;
namespace compute = powerbatch::compute;

static_assert(!std::is_copy_constructible_v<cuda::stream> && std::is_nothrow_move_constructible_v<cuda::stream>);
static_assert(!std::is_copy_constructible_v<cuda::event> && std::is_nothrow_move_constructible_v<cuda::event>);
static_assert(!std::is_copy_constructible_v<cuda::device_buffer> &&
              std::is_nothrow_move_constructible_v<cuda::device_buffer>);
static_assert(compute::buffer_allocator<cuda::pinned_allocator>);

namespace {
template <class F>
void expect_no_device(const char* call, F&& make) {
  try {
    make();
    FAIL(call << " succeeded without a GPU");
  } catch (const cuda::error& e) {
    CHECK(e.code() == std::errc::no_such_device);
    CHECK(&e.code().category() == &cuda::runtime_category());
    CHECK_THAT(std::string(e.what()), Catch::Contains(call));
    CHECK_THAT(std::string(e.what()), Catch::Contains(cudaGetErrorString(static_cast<cudaError_t>(e.code().value()))));
  }
}
}  // namespace

TEST_CASE("Without a GPU, runtime objects fail with CUDA's no-device error", "[cuda][runtime]") {
  if (powerbatch_cuda_tests::gpu_visible()) {
    SUCCEED("a GPU is visible: the no-GPU path is not reachable here");
    return;
  }
  expect_no_device("cudaStreamCreateWithFlags", [] { cuda::stream s; });
  expect_no_device("cudaEventCreateWithFlags", [] { cuda::event e; });
  expect_no_device("cudaMalloc", [] { cuda::device_buffer b(1024); });
  expect_no_device("cudaHostAlloc", [] { (void)cuda::pinned_allocator{}.allocate(4096); });

  // A Pool over pinned memory passes the error on and keeps its books straight.
  compute::Pool<cuda::pinned_allocator> pool;
  expect_no_device("cudaHostAlloc", [&] { (void)pool.acquire<float>({16, 16}); });
  CHECK(pool.stats().bytes_leased == 0);
  CHECK(pool.stats().buffers_leased == 0);
}

TEST_CASE("An empty device_buffer needs no GPU and moves like any other", "[cuda][runtime]") {
  cuda::device_buffer empty(0);
  CHECK(empty.data() == nullptr);
  CHECK(empty.bytes() == 0);
  cuda::device_buffer moved = std::move(empty);
  CHECK(moved.data() == nullptr);
}

TEST_CASE("Streams, events and device memory work on a GPU", "[cuda][runtime][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  cuda::stream stream;
  REQUIRE(stream);
  cuda::event done;
  REQUIRE(done);

  std::vector<std::uint32_t> host(1000), back(1000, 0);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<std::uint32_t>(i * 2654435761u);
  cuda::device_buffer buffer(host.size() * sizeof(std::uint32_t));
  REQUIRE(buffer.data() != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(buffer.data()) % 256 == 0);
  buffer.upload(host.data(), buffer.bytes());
  POWERBATCH_CUDA_CHECK(cudaMemcpyAsync(back.data(), buffer.data(), buffer.bytes(), cudaMemcpyDeviceToHost,
                                        stream.get()));
  done.record(stream);
  done.synchronize();
  CHECK(done.ready());
  CHECK(back == host);

  // Moves hand the handle over and leave the source empty.
  const cudaStream_t raw_stream = stream.get();
  cuda::stream other = std::move(stream);
  CHECK(other.get() == raw_stream);
  CHECK_FALSE(stream);  // NOLINT(bugprone-use-after-move)
  void* const raw_memory = buffer.data();
  cuda::device_buffer moved = std::move(buffer);
  CHECK(moved.data() == raw_memory);
  CHECK(moved.bytes() == host.size() * sizeof(std::uint32_t));
  CHECK(buffer.data() == nullptr);  // NOLINT(bugprone-use-after-move)
  CHECK(buffer.bytes() == 0);       // NOLINT(bugprone-use-after-move)

  // Timing events measure work on the stream.
  cuda::event start(cudaEventDefault), end(cudaEventDefault);
  start.record(other);
  POWERBATCH_CUDA_CHECK(cudaMemsetAsync(moved.data(), 0, moved.bytes(), other.get()));
  end.record(other);
  end.synchronize();
  CHECK(cuda::event::elapsed_ms(start, end) >= 0.0f);
  other.synchronize();
}

TEST_CASE("device_guard selects a device and restores the previous one", "[cuda][runtime][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  int before = -1;
  POWERBATCH_CUDA_CHECK(cudaGetDevice(&before));
  {
    cuda::device_guard guard(0);
    int now = -1;
    POWERBATCH_CUDA_CHECK(cudaGetDevice(&now));
    CHECK(now == 0);
  }
  int after = -1;
  POWERBATCH_CUDA_CHECK(cudaGetDevice(&after));
  CHECK(after == before);
  const int count = cuda::device_count().value;
  try {
    cuda::device_guard guard(count);  // one past the last device
    FAIL("device_guard accepted a device that does not exist");
  } catch (const cuda::error& e) {
    CHECK(e.code() == std::errc::no_such_device);  // cudaErrorInvalidDevice
    CHECK_THAT(std::string(e.what()), Catch::Contains("cudaSetDevice"));
  }
}

TEST_CASE("Pinned memory is aligned, usable and pooled", "[cuda][runtime][gpu]") {
  POWERBATCH_REQUIRE_GPU_OR_SKIP();
  cuda::pinned_allocator allocator;
  void* block = allocator.allocate(1 << 20);
  REQUIRE(block != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(block) % cuda::pinned_allocator::alignment == 0);
  cudaPointerAttributes attributes{};
  POWERBATCH_CUDA_CHECK(cudaPointerGetAttributes(&attributes, block));
  CHECK(attributes.type == cudaMemoryTypeHost);  // page-locked, known to CUDA
  std::memset(block, 0xab, 1 << 20);
  allocator.deallocate(block, 1 << 20);

  compute::Pool<cuda::pinned_allocator> pool;
  {
    auto lease = pool.acquire<float>({64, 32});
    CHECK(lease.size() == 64 * 32);
    CHECK(lease.data()[0] == 0.0f);
    lease.data()[0] = 1.0f;
  }
  auto again = pool.acquire<float>({64, 32});
  CHECK(again.data()[0] == 0.0f);  // zeroed before reuse
  CHECK(pool.stats().hits == 1);
  CHECK(pool.stats().misses == 1);
}
