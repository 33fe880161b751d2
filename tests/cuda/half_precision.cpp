// cuda/half_precision.hpp: fp32 <-> fp16 / bf16 on the host. Exact reference values (rounding, ties to even,
// subnormals, overflow, NaN), then a cross-check against CUDA's own host conversions (cuda_fp16.h, cuda_bf16.h)
// over every 16-bit pattern, every rounding boundary and a stride through all 2^32 floats. No GPU needed.
#include <powerbatch/cuda/half_precision.hpp>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace cuda = powerbatch::cuda;

namespace {
float from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }
bool half_is_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }
bool bf16_is_nan(std::uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x007fu) != 0; }
std::uint16_t cuda_half(float f) { return __half_as_ushort(__float2half_rn(f)); }
std::uint16_t cuda_bf16(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
}  // namespace

static_assert(cuda::float_to_half_bits(1.0f) == 0x3c00);
static_assert(cuda::half_bits_to_float(0x3c00) == 1.0f);
static_assert(cuda::float_to_bfloat16_bits(1.0f) == 0x3f80);
static_assert(cuda::bfloat16_bits_to_float(0x3f80) == 1.0f);

TEST_CASE("fp32 -> fp16 reference values", "[cuda][half]") {
  CHECK(cuda::float_to_half_bits(0.0f) == 0x0000);
  CHECK(cuda::float_to_half_bits(-0.0f) == 0x8000);
  CHECK(cuda::float_to_half_bits(1.0f) == 0x3c00);
  CHECK(cuda::float_to_half_bits(-2.0f) == 0xc000);
  CHECK(cuda::float_to_half_bits(0.5f) == 0x3800);
  CHECK(cuda::float_to_half_bits(0.1f) == 0x2e66);       // 0.0999755859375
  CHECK(cuda::float_to_half_bits(1.0f / 3.0f) == 0x3555);
  CHECK(cuda::float_to_half_bits(3.14159265f) == 0x4248);
  CHECK(cuda::float_to_half_bits(65504.0f) == 0x7bff);   // largest finite half
  CHECK(cuda::float_to_half_bits(65519.99f) == 0x7bff);  // just below the overflow midpoint
  CHECK(cuda::float_to_half_bits(65520.0f) == 0x7c00);   // the midpoint ties to even: infinity
  CHECK(cuda::float_to_half_bits(1.0e6f) == 0x7c00);
  CHECK(cuda::float_to_half_bits(-1.0e6f) == 0xfc00);
  CHECK(cuda::float_to_half_bits(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(cuda::float_to_half_bits(-std::numeric_limits<float>::infinity()) == 0xfc00);
  // Ties to even in the normal range: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
  CHECK(cuda::float_to_half_bits(1.0f + 0x1p-11f) == 0x3c00);
  CHECK(cuda::float_to_half_bits(1.0f + 3 * 0x1p-11f) == 0x3c02);
  CHECK(cuda::float_to_half_bits(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01);
  // Smallest normal and the subnormals (unit 2^-24).
  CHECK(cuda::float_to_half_bits(0x1p-14f) == 0x0400);
  CHECK(cuda::float_to_half_bits(0x1p-24f) == 0x0001);
  CHECK(cuda::float_to_half_bits(0x1p-25f) == 0x0000);  // tie, to even (zero)
  CHECK(cuda::float_to_half_bits(0x1.8p-25f) == 0x0001);
  CHECK(cuda::float_to_half_bits(3 * 0x1p-25f) == 0x0002);  // 1.5 units ties to 2
  CHECK(cuda::float_to_half_bits(-0x1p-24f) == 0x8001);
  CHECK(cuda::float_to_half_bits(0x1p-14f - 0x1p-24f) == 0x03ff);  // largest subnormal
  CHECK(cuda::float_to_half_bits(0x1p-14f - 0x1p-26f) == 0x0400);  // rounds up into the normals
  CHECK(cuda::float_to_half_bits(1.0e-10f) == 0x0000);
  // NaN stays NaN and keeps its sign.
  CHECK(half_is_nan(cuda::float_to_half_bits(std::numeric_limits<float>::quiet_NaN())));
  CHECK(half_is_nan(cuda::float_to_half_bits(from_bits(0x7f800001u))));  // signalling NaN, payload in low bits
  CHECK((cuda::float_to_half_bits(from_bits(0xffc00000u)) & 0x8000u) == 0x8000u);
}

TEST_CASE("fp16 -> fp32 reference values", "[cuda][half]") {
  CHECK(cuda::half_bits_to_float(0x0000) == 0.0f);
  CHECK(std::signbit(cuda::half_bits_to_float(0x8000)));
  CHECK(cuda::half_bits_to_float(0x3c00) == 1.0f);
  CHECK(cuda::half_bits_to_float(0xc000) == -2.0f);
  CHECK(cuda::half_bits_to_float(0x2e66) == 0.0999755859375f);
  CHECK(cuda::half_bits_to_float(0x7bff) == 65504.0f);
  CHECK(cuda::half_bits_to_float(0x0400) == 0x1p-14f);
  CHECK(cuda::half_bits_to_float(0x0001) == 0x1p-24f);
  CHECK(cuda::half_bits_to_float(0x03ff) == 0x1p-14f - 0x1p-24f);
  CHECK(cuda::half_bits_to_float(0x8001) == -0x1p-24f);
  CHECK(cuda::half_bits_to_float(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(cuda::half_bits_to_float(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(cuda::half_bits_to_float(0x7e00)));
  CHECK(std::isnan(cuda::half_bits_to_float(0x7c01)));
}

TEST_CASE("fp32 <-> bf16 reference values", "[cuda][half]") {
  CHECK(cuda::float_to_bfloat16_bits(0.0f) == 0x0000);
  CHECK(cuda::float_to_bfloat16_bits(-0.0f) == 0x8000);
  CHECK(cuda::float_to_bfloat16_bits(1.0f) == 0x3f80);
  CHECK(cuda::float_to_bfloat16_bits(-2.0f) == 0xc000);
  CHECK(cuda::float_to_bfloat16_bits(0.1f) == 0x3dcd);
  CHECK(cuda::float_to_bfloat16_bits(3.14159265f) == 0x4049);
  CHECK(cuda::float_to_bfloat16_bits(1.0f + 0x1p-8f) == 0x3f80);      // tie, to even
  CHECK(cuda::float_to_bfloat16_bits(1.0f + 3 * 0x1p-8f) == 0x3f82);  // tie, to even (up)
  CHECK(cuda::float_to_bfloat16_bits(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);
  CHECK(cuda::float_to_bfloat16_bits(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up to infinity
  CHECK(cuda::float_to_bfloat16_bits(from_bits(0x7f7f7fffu)) == 0x7f7f);            // largest that stays finite
  CHECK(cuda::float_to_bfloat16_bits(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(cuda::float_to_bfloat16_bits(-std::numeric_limits<float>::infinity()) == 0xff80);
  CHECK(cuda::float_to_bfloat16_bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(cuda::float_to_bfloat16_bits(from_bits(0x00008000u)) == 0x0000);  // subnormal tie, to even
  CHECK(cuda::float_to_bfloat16_bits(from_bits(0x00018000u)) == 0x0002);
  CHECK(bf16_is_nan(cuda::float_to_bfloat16_bits(std::numeric_limits<float>::quiet_NaN())));
  CHECK(bf16_is_nan(cuda::float_to_bfloat16_bits(from_bits(0x7f800001u))));  // payload only in the low bits
  CHECK(cuda::bfloat16_bits_to_float(0x3dcd) == from_bits(0x3dcd0000u));
  CHECK(cuda::bfloat16_bits_to_float(0xff80) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("span conversions convert every element", "[cuda][half]") {
  const std::vector<float> values{1.0f, -2.0f, 0.1f, 65504.0f, 0x1p-24f};
  std::vector<std::uint16_t> halves(values.size()), bf16s(values.size());
  std::vector<float> back(values.size());
  cuda::float_to_half(values, halves);
  CHECK(halves == std::vector<std::uint16_t>{0x3c00, 0xc000, 0x2e66, 0x7bff, 0x0001});
  cuda::half_to_float(halves, back);
  CHECK(back == std::vector<float>{1.0f, -2.0f, 0.0999755859375f, 65504.0f, 0x1p-24f});
  cuda::float_to_bfloat16(values, bf16s);
  CHECK(bf16s == std::vector<std::uint16_t>{0x3f80, 0xc000, 0x3dcd, 0x4780, 0x3380});
  cuda::bfloat16_to_float(bf16s, back);
  CHECK(back[2] == from_bits(0x3dcd0000u));
}

TEST_CASE("fp16 conversions agree with CUDA's host conversions", "[cuda][half]") {
  std::size_t mismatches = 0;
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float ours = cuda::half_bits_to_float(half);
    const float theirs = __half2float(__ushort_as_half(half));
    if (half_is_nan(half)) {
      mismatches += !std::isnan(ours);
      continue;
    }
    mismatches += std::bit_cast<std::uint32_t>(ours) != std::bit_cast<std::uint32_t>(theirs);
    // Every rounding boundary: the value itself, the midpoint to the next half, and one float ulp either side.
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(ours);
    const auto next_half = static_cast<std::uint16_t>((half + 1) & 0xffff);
    const std::uint32_t next_bits = std::bit_cast<std::uint32_t>(cuda::half_bits_to_float(next_half));
    const std::uint32_t mid = bits / 2 + next_bits / 2 + (bits & next_bits & 1u);
    for (std::uint32_t probe : {bits, bits + 1, bits - 1, mid, mid + 1, mid - 1}) {
      const float f = from_bits(probe);
      if (std::isnan(f)) continue;
      mismatches += cuda::float_to_half_bits(f) != cuda_half(f);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("fp32 -> fp16 and bf16 agree with CUDA's host conversions across all floats", "[cuda][half]") {
  std::size_t half_mismatches = 0, bf16_mismatches = 0, checked = 0;
  for (std::uint64_t bits = 0; bits <= 0xffffffffu; bits += 4099) {  // 4099 is prime: every residue of the low bits
    const float f = from_bits(static_cast<std::uint32_t>(bits));
    ++checked;
    if (std::isnan(f)) {
      half_mismatches += !half_is_nan(cuda::float_to_half_bits(f));
      bf16_mismatches += !bf16_is_nan(cuda::float_to_bfloat16_bits(f));
      continue;
    }
    half_mismatches += cuda::float_to_half_bits(f) != cuda_half(f);
    bf16_mismatches += cuda::float_to_bfloat16_bits(f) != cuda_bf16(f);
  }
  CHECK(checked > 1'000'000);
  CHECK(half_mismatches == 0);
  CHECK(bf16_mismatches == 0);
}

TEST_CASE("bf16 -> fp32 agrees with CUDA's host conversion for every pattern", "[cuda][half]") {
  std::size_t mismatches = 0;
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto bf16 = static_cast<std::uint16_t>(h);
    const float ours = cuda::bfloat16_bits_to_float(bf16);
    const float theirs = __bfloat162float(__ushort_as_bfloat16(bf16));
    mismatches += std::bit_cast<std::uint32_t>(ours) != std::bit_cast<std::uint32_t>(theirs);
  }
  CHECK(mismatches == 0);
}
