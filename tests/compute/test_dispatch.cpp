// compute_tests — run-time kernel selection: AVX2 (or AVX-512, AVX-512 VNNI) is picked on a machine that has it
// without -mavx2, the portable set can be forced, and a request above the CPU is lowered.
#include <powerbatch/compute/kernel_isa.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <optional>

namespace compute_tests {

namespace compute = powerbatch::compute;

TEST_CASE("dispatch picks the widest kernel set the CPU has, whatever the build flags", "[compute][dispatch]") {
#if POWERBATCH_COMPUTE_X86_DISPATCH
  __builtin_cpu_init();
  const bool cpu_has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool cpu_has_avx512 = cpu_has_avx2 && __builtin_cpu_supports("avx512f") &&
                              __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                              __builtin_cpu_supports("avx512vl");
  const bool cpu_has_vnni = cpu_has_avx512 && __builtin_cpu_supports("avx512vnni");
  const bool cpu_has_bf16 = cpu_has_vnni && __builtin_cpu_supports("avx512bf16");
  const compute::kernel_isa expected = cpu_has_bf16     ? compute::kernel_isa::avx512_bf16
                                       : cpu_has_vnni   ? compute::kernel_isa::avx512_vnni
                                       : cpu_has_avx512 ? compute::kernel_isa::avx512
                                       : cpu_has_avx2   ? compute::kernel_isa::avx2_fma
                                                        : compute::kernel_isa::portable;
  INFO("detected " << compute::to_string(compute::detected_kernel_isa()));
  CHECK(compute::detected_kernel_isa() == expected);
  if (std::getenv("POWERBATCH_KERNEL_ISA") == nullptr) {
    CHECK(compute::active_kernel_isa() == compute::detected_kernel_isa());
  }
#if !defined(__AVX2__)
  // The point of run-time dispatch: this TU is built without -mavx2 and still gets the AVX2 kernels.
  if (cpu_has_avx2) CHECK(compute::active_kernel_isa() >= compute::kernel_isa::avx2_fma);
#endif
#else
  CHECK(compute::detected_kernel_isa() == compute::kernel_isa::portable);
#endif
}

TEST_CASE("the portable kernel set can be forced and automatic selection restored", "[compute][dispatch]") {
  compute::force_kernel_isa(compute::kernel_isa::portable);
  CHECK(compute::active_kernel_isa() == compute::kernel_isa::portable);
  compute::force_kernel_isa(compute::kernel_isa::avx512_bf16);
  // Never more than the CPU has.
  CHECK(compute::active_kernel_isa() == compute::detected_kernel_isa());
  compute::force_kernel_isa(compute::kernel_isa::avx2_fma);
  CHECK(compute::active_kernel_isa() == std::min(compute::kernel_isa::avx2_fma, compute::detected_kernel_isa()));
  compute::force_kernel_isa(std::nullopt);
  CHECK(compute::active_kernel_isa() == compute::detected_kernel_isa());
  CHECK(compute::kernel_isa_from_string("avx2") == compute::kernel_isa::avx2_fma);
  CHECK(compute::kernel_isa_from_string("portable") == compute::kernel_isa::portable);
  CHECK(compute::kernel_isa_from_string("avx512") == compute::kernel_isa::avx512);
  CHECK(compute::kernel_isa_from_string("avx512_vnni") == compute::kernel_isa::avx512_vnni);
  CHECK(compute::kernel_isa_from_string("avx512_bf16") == compute::kernel_isa::avx512_bf16);
  for (auto isa : {compute::kernel_isa::portable, compute::kernel_isa::avx2_fma, compute::kernel_isa::avx512,
                   compute::kernel_isa::avx512_vnni, compute::kernel_isa::avx512_bf16})
    CHECK(compute::kernel_isa_from_string(compute::to_string(isa)) == isa);
  CHECK_FALSE(compute::kernel_isa_from_string("avx9").has_value());
}

}  // namespace compute_tests
