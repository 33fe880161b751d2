// compute::detail — dynamic per-row activation quantisation for the int8 kernels, and the per-thread buffer it
// writes into (grow-only, so steady-state calls allocate nothing).
//
// Row r gets scale s_r = max_i |x[r][i]| / 127 and q[r][i] = round_half_even(x[r][i] * 127 / max) in [-127, 127],
// padded with zeros to padded_in. Both paths multiply by the same float inverse and round the same way, so they
// produce identical bytes.
#pragma once

#include <powerbatch/compute/detail/target_avx2.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

struct quantized_rows_buffer {
  std::vector<std::int8_t> values;
  std::vector<float> scales;

  void reserve_rows(std::size_t rows, std::size_t padded_in) {
    if (values.size() < rows * padded_in) values.resize(rows * padded_in);
    if (scales.size() < rows) scales.resize(rows);
  }
};

inline quantized_rows_buffer& thread_quantized_rows() {
  thread_local quantized_rows_buffer buffer;
  return buffer;
}

inline float row_inverse_scale(float max_abs, float* scale) noexcept {
  *scale = max_abs / 127.0f;
  return max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
}

inline void quantize_rows_portable(const float* x, std::size_t rows, std::size_t in, std::size_t padded_in,
                                   std::int8_t* q, float* scales) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * in;
    float max_abs = 0.0f;
    for (std::size_t i = 0; i < in; ++i) max_abs = std::max(max_abs, std::fabs(row[i]));
    const float inverse = row_inverse_scale(max_abs, scales + r);
    std::int8_t* out = q + r * padded_in;
    for (std::size_t i = 0; i < in; ++i)
      out[i] = static_cast<std::int8_t>(std::clamp(std::nearbyint(row[i] * inverse), -127.0f, 127.0f));
    std::fill(out + in, out + padded_in, std::int8_t{0});
  }
}

#if POWERBATCH_COMPUTE_X86_DISPATCH
POWERBATCH_TARGET_AVX2 inline void quantize_rows_avx2(const float* x, std::size_t rows, std::size_t in,
                                                      std::size_t padded_in, std::int8_t* q, float* scales) noexcept {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * in;
    __m256 max_vector = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= in; i += 8) max_vector = _mm256_max_ps(max_vector, _mm256_andnot_ps(sign_mask, _mm256_loadu_ps(row + i)));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, max_vector);
    float max_abs = *std::max_element(lanes, lanes + 8);
    for (; i < in; ++i) max_abs = std::max(max_abs, std::fabs(row[i]));
    const float inverse = row_inverse_scale(max_abs, scales + r);

    // |x * inverse| <= 127 by construction, so the saturating packs never clip; cvtps rounds half to even.
    const __m256 inverse_vector = _mm256_set1_ps(inverse);
    std::int8_t* out = q + r * padded_in;
    i = 0;
    for (; i + 32 <= in; i += 32) {
      const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i), inverse_vector));
      const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i + 8), inverse_vector));
      const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i + 16), inverse_vector));
      const __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i + 24), inverse_vector));
      const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permutevar8x32_epi32(packed, order));
    }
    for (; i < in; ++i)
      out[i] = static_cast<std::int8_t>(std::clamp(std::nearbyint(row[i] * inverse), -127.0f, 127.0f));
    std::memset(out + in, 0, padded_in - in);
  }
}
#endif

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
