// compute_tests — steady-state dense_forward allocates nothing: this TU replaces the global (unaligned) operator
// new with a counting one, so every heap allocation in the executable is counted while a test is watching.
#include "reference.hpp"

#include <powerbatch/compute/dense_kernels.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

namespace {
std::atomic<std::size_t> allocations{0};
}

// GCC pairs the standard operator new it sees inlined with the free() in the replaced delete below and warns;
// both are replaced here (malloc / free), so the pairing is right.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace compute_tests {

TEST_CASE("dense_forward_serial allocates nothing once its per-thread buffers have grown",
          "[compute][allocation]") {
  const layer_data d = random_layer(300, 70, 64, 3);
  const compute::packed_dense_fp32 fp32(d.weights, d.out, d.in, d.bias);
  const compute::quantized_dense_int8 int8 = compute::quantize_int8(d.weights, d.out, d.in, d.bias);
  std::vector<float> y(d.batch * d.out);
  for (compute::kernel_isa isa : kernel_sets()) {
    compute::force_kernel_isa(isa);
    // Warm-up at the largest batch grows the scratch; smaller and equal batches then reuse it.
    compute::dense_forward_serial(fp32, d.x.data(), d.batch, y.data(), compute::activation::gelu);
    compute::dense_forward_serial(int8, d.x.data(), d.batch, y.data(), compute::activation::gelu);
    const std::size_t before = allocations.load();
    for (std::size_t batch : {std::size_t{1}, std::size_t{7}, d.batch}) {
      compute::dense_forward_serial(fp32, d.x.data(), batch, y.data(), compute::activation::relu);
      compute::dense_forward_serial(int8, d.x.data(), batch, y.data(), compute::activation::relu);
    }
    CHECK(allocations.load() == before);
  }
  compute::force_kernel_isa(std::nullopt);
  // The counter itself works: a vector allocates.
  const std::size_t before = allocations.load();
  std::vector<int> grows(100);
  CHECK(allocations.load() > before);
}

}  // namespace compute_tests
