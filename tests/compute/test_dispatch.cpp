// compute_tests — run-time kernel selection: AVX2 is picked on an AVX2 + FMA machine without -mavx2, the portable
// set can be forced, and a request above the CPU is lowered.
#include <powerbatch/compute/kernel_isa.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>

namespace compute_tests {

namespace compute = powerbatch::compute;

TEST_CASE("dispatch picks AVX2 + FMA when the CPU has it, whatever the build flags", "[compute][dispatch]") {
#if POWERBATCH_COMPUTE_X86_DISPATCH
  __builtin_cpu_init();
  const bool cpu_has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  CHECK(compute::detected_kernel_isa() ==
        (cpu_has_avx2 ? compute::kernel_isa::avx2_fma : compute::kernel_isa::portable));
  if (std::getenv("POWERBATCH_KERNEL_ISA") == nullptr) {
    CHECK(compute::active_kernel_isa() == compute::detected_kernel_isa());
  }
#if !defined(__AVX2__)
  // The point of run-time dispatch: this TU is built without -mavx2 and still gets the AVX2 kernels.
  if (cpu_has_avx2) CHECK(compute::active_kernel_isa() == compute::kernel_isa::avx2_fma);
#endif
#else
  CHECK(compute::detected_kernel_isa() == compute::kernel_isa::portable);
#endif
}

TEST_CASE("the portable kernel set can be forced and automatic selection restored", "[compute][dispatch]") {
  compute::force_kernel_isa(compute::kernel_isa::portable);
  CHECK(compute::active_kernel_isa() == compute::kernel_isa::portable);
  compute::force_kernel_isa(compute::kernel_isa::avx2_fma);
  // Never more than the CPU has.
  CHECK(compute::active_kernel_isa() == compute::detected_kernel_isa());
  compute::force_kernel_isa(std::nullopt);
  CHECK(compute::active_kernel_isa() == compute::detected_kernel_isa());
  CHECK(compute::kernel_isa_from_string("avx2") == compute::kernel_isa::avx2_fma);
  CHECK(compute::kernel_isa_from_string("portable") == compute::kernel_isa::portable);
  CHECK_FALSE(compute::kernel_isa_from_string("avx9").has_value());
}

}  // namespace compute_tests
