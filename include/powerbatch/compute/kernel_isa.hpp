// compute::kernel_isa — which instruction set the dense kernels run with, chosen once at run time.
//
// Why run time: powerbatch is header-only and built with the project's default flags (no -march), yet an AVX2
// machine must get AVX2 kernels. xsimd picks its architecture from the compiler flags of the translation unit
// (xsimd::batch<float, xsimd::avx2> only exists under -mavx2), so the fast x86 kernels are intrinsics inside
// functions marked __attribute__((target("avx2,fma"))), which GCC and clang compile whatever the TU's flags, and
// xsimd's default architecture (SSE2 on x86-64, NEON on AArch64, or AVX2 when the TU is built with -mavx2) is the
// portable path. The CPU is asked once (__builtin_cpu_supports).
//
// AVX-512 (F, BW, DQ, VL) brings 16-wide fp32 tiles; AVX-512 VNNI adds vpdpbusd, four int8 multiply-adds per
// 32-bit lane in one instruction, for the int8 kernel (the fp32 kernel is the same on both); AVX512-BF16 adds
// vdpbf16ps for bf16 layers (every CPU that has it has VNNI too: Cooper Lake, Sapphire Rapids, Zen 4).
// __builtin_cpu_supports also checks that the OS saves the ZMM state, so a kernel that disabled AVX-512 is seen
// as an AVX2 machine.
//
// Override, for tests and for comparing paths: the environment variable
// POWERBATCH_KERNEL_ISA=portable|avx2|avx512|avx512_vnni|avx512_bf16 (read on first use) or force_kernel_isa().
// A request for more than the CPU has is lowered to what it has.
#pragma once

#include <powerbatch/config.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

// The x86 run-time dispatch needs GCC/clang's target attribute and __builtin_cpu_supports.
#if !defined(POWERBATCH_COMPUTE_X86_DISPATCH)
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define POWERBATCH_COMPUTE_X86_DISPATCH 1
#else
#define POWERBATCH_COMPUTE_X86_DISPATCH 0
#endif
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// Ordered: a higher value needs everything a lower one needs.
enum class kernel_isa : std::uint8_t {
  portable,  // xsimd's default architecture for this TU's flags (SSE2 / NEON / ...), scalar int8 dot products
  avx2_fma,     // AVX2 + FMA intrinsics: fp32 FMA tiles, int8 vpmaddubsw/vpmaddwd
  avx512,       // AVX-512 F/BW/DQ/VL: 16-wide fp32 tiles (int8 stays on the AVX2 sequence: AVX-512 has no vpsignb)
  avx512_vnni,  // + AVX-512 VNNI: int8 dot products with vpdpbusd
  avx512_bf16,  // + AVX512-BF16: bf16 layers with vdpbf16ps
};

constexpr std::string_view to_string(kernel_isa isa) noexcept {
  switch (isa) {
    case kernel_isa::portable: return "portable";
    case kernel_isa::avx2_fma: return "avx2_fma";
    case kernel_isa::avx512: return "avx512";
    case kernel_isa::avx512_vnni: return "avx512_vnni";
    case kernel_isa::avx512_bf16: return "avx512_bf16";
  }
  return "unknown";
}

constexpr std::optional<kernel_isa> kernel_isa_from_string(std::string_view name) noexcept {
  if (name == "portable") return kernel_isa::portable;
  if (name == "avx2" || name == "avx2_fma") return kernel_isa::avx2_fma;
  if (name == "avx512") return kernel_isa::avx512;
  if (name == "avx512_vnni") return kernel_isa::avx512_vnni;
  if (name == "avx512_bf16") return kernel_isa::avx512_bf16;
  return std::nullopt;
}

// The best kernel set this CPU can run (asked once).
inline kernel_isa detected_kernel_isa() noexcept {
  static const kernel_isa detected = [] {
#if POWERBATCH_COMPUTE_X86_DISPATCH
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return kernel_isa::portable;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
      return kernel_isa::avx2_fma;
    if (!__builtin_cpu_supports("avx512vnni")) return kernel_isa::avx512;
    return __builtin_cpu_supports("avx512bf16") ? kernel_isa::avx512_bf16 : kernel_isa::avx512_vnni;
#else
    return kernel_isa::portable;
#endif
  }();
  return detected;
}

namespace detail {
// 0 = no override; otherwise 1 + the forced kernel_isa.
inline std::atomic<std::uint8_t>& kernel_isa_override() noexcept {
  static std::atomic<std::uint8_t> value{[] {
    const char* env = std::getenv("POWERBATCH_KERNEL_ISA");
    if (env == nullptr) return std::uint8_t{0};
    const auto parsed = kernel_isa_from_string(env);
    return parsed ? static_cast<std::uint8_t>(1 + static_cast<std::uint8_t>(*parsed)) : std::uint8_t{0};
  }()};
  return value;
}
}  // namespace detail

// Forces a kernel set (lowered to what the CPU has); std::nullopt returns to automatic selection.
// Meant for tests and benchmarks; switching while another thread runs a kernel is safe (each call reads it once).
inline void force_kernel_isa(std::optional<kernel_isa> isa) noexcept {
  detail::kernel_isa_override().store(isa ? static_cast<std::uint8_t>(1 + static_cast<std::uint8_t>(*isa)) : 0,
                                      std::memory_order_relaxed);
}

// The kernel set dense_forward uses now.
inline kernel_isa active_kernel_isa() noexcept {
  const std::uint8_t forced = detail::kernel_isa_override().load(std::memory_order_relaxed);
  const kernel_isa best = detected_kernel_isa();
  if (forced == 0) return best;
  const auto wanted = static_cast<kernel_isa>(forced - 1);
  return wanted < best ? wanted : best;
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
