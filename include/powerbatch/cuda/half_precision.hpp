// Host conversions between fp32 and the 16-bit formats the GPU computes in: IEEE binary16 (fp16) and bfloat16.
//
// The 16-bit values are carried as their bit patterns (std::uint16_t), so this header needs no CUDA header and the
// bits can be copied straight into device memory. float -> 16 bits rounds to nearest, ties to even, as the GPU's
// own __float2half_rn / __float2bfloat16_rn do: overflow gives ±infinity, fp16 keeps subnormals, NaN stays a
// (quiet) NaN with its sign. 16 bits -> float is exact. Assumes the default floating-point environment
// (round-to-nearest); the fp16 subnormal path relies on it.
#pragma once

#include <powerbatch/config.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

// fp32 -> fp16 bits. The rounding is F. Giesen's float_to_half_fast3_rtne (public domain): one integer add does
// round-to-nearest-even for normal results; for subnormal results, adding 0.5f lines the 10 mantissa bits up at
// the bottom of a float whose exponent fixes the unit at 2^-24, and the FPU rounds.
constexpr std::uint16_t float_to_half_bits(float value) noexcept {
  constexpr std::uint32_t float_infinity = 255u << 23;
  constexpr std::uint32_t half_overflow = (127u + 16u) << 23;  // 2^16: everything from here is ±inf
  constexpr std::uint32_t smallest_half_normal = 113u << 23;    // 2^-14
  constexpr std::uint32_t subnormal_magic = 126u << 23;         // 0.5f

  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  std::uint32_t half = 0;
  if (bits >= half_overflow) {
    half = bits > float_infinity ? 0x7e00u : 0x7c00u;  // NaN -> quiet NaN, otherwise ±inf
  } else if (bits < smallest_half_normal) {
    const float aligned = std::bit_cast<float>(bits) + std::bit_cast<float>(subnormal_magic);
    half = std::bit_cast<std::uint32_t>(aligned) - subnormal_magic;
  } else {
    const std::uint32_t mantissa_is_odd = (bits >> 13) & 1u;
    bits += (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + mantissa_is_odd;  // rebias, round
    half = bits >> 13;  // a carry out of the mantissa bumps the exponent, up to infinity at 65520
  }
  return static_cast<std::uint16_t>(half | (sign >> 16));
}

// fp16 bits -> fp32, exact.
constexpr float half_bits_to_float(std::uint16_t half) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  const std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa x 2^-24, exact in fp32.
  const float magnitude = static_cast<float>(mantissa) * std::bit_cast<float>(103u << 23);
  return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
}

// fp32 -> bfloat16 bits: the top 16 bits of the float, rounded to nearest even.
constexpr std::uint16_t float_to_bfloat16_bits(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

// bfloat16 bits -> fp32, exact.
constexpr float bfloat16_bits_to_float(std::uint16_t bf16) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bf16) << 16);
}

// Whole buffers; `to` must be at least as long as `from`.
inline void float_to_half(std::span<const float> from, std::span<std::uint16_t> to) noexcept {
  for (std::size_t i = 0; i < from.size(); ++i) to[i] = float_to_half_bits(from[i]);
}
inline void half_to_float(std::span<const std::uint16_t> from, std::span<float> to) noexcept {
  for (std::size_t i = 0; i < from.size(); ++i) to[i] = half_bits_to_float(from[i]);
}
inline void float_to_bfloat16(std::span<const float> from, std::span<std::uint16_t> to) noexcept {
  for (std::size_t i = 0; i < from.size(); ++i) to[i] = float_to_bfloat16_bits(from[i]);
}
inline void bfloat16_to_float(std::span<const std::uint16_t> from, std::span<float> to) noexcept {
  for (std::size_t i = 0; i < from.size(); ++i) to[i] = bfloat16_bits_to_float(from[i]);
}

}  // namespace cuda
POWERBATCH_END_NAMESPACE
