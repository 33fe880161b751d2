// compute::detail — exp and the fused activations on eight floats with AVX2/FMA, for the kernels' epilogues.
//
// exp is Cephes' expf (range reduction by ln 2 in two parts, degree-5 polynomial, 2^n through the exponent bits),
// accurate to about 2 ulp on [-87, 88]. erf-gelu uses Abramowitz & Stegun 7.1.26 for erfc (abs error < 1.5e-7),
// written as x * Phi(x) so negative inputs need no cancelling 1 - erf. tanh is Cephes' polynomial below 0.625 and
// 1 - 2 / (exp(2|x|) + 1) above.
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/detail/target_avx2.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>

#if POWERBATCH_COMPUTE_X86_DISPATCH

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

POWERBATCH_TARGET_AVX2 inline __m256 exp_avx2(__m256 x) noexcept {
  // Clamped so that 2^n stays a normal float: exp(88) and exp(-87.3) bound the results.
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
}

POWERBATCH_TARGET_AVX2 inline __m256 sigmoid_avx2(__m256 x) noexcept {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

POWERBATCH_TARGET_AVX2 inline __m256 tanh_avx2(__m256 x) noexcept {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 magnitude = _mm256_andnot_ps(sign_mask, x);
  // Large |x|: 1 - 2 / (exp(2|x|) + 1), sign restored.
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_avx2(_mm256_add_ps(magnitude, magnitude));
  __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  large = _mm256_or_ps(large, _mm256_and_ps(sign_mask, x));
  // Small |x|: x + x^3 P(x^2).
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(magnitude, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

POWERBATCH_TARGET_AVX2 inline __m256 gelu_avx2(__m256 x) noexcept {
  // Phi(x) = erfc(-x / sqrt 2) / 2; with z = |x| / sqrt 2, erfc(z) ~ t P(t) exp(-z^2), t = 1 / (1 + p z).
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign_mask, x), _mm256_set1_ps(0.70710678118654752f));
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), z, one));
  __m256 poly = _mm256_set1_ps(1.061405429f);
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
  const __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_mul_ps(poly, t)),
                                         exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(z, z))));
  // x >= 0: Phi = 1 - erfc(z)/2; x < 0: Phi = erfc(z)/2.
  const __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(one, half_erfc), half_erfc,
                                      _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_mul_ps(x, phi);
}

POWERBATCH_TARGET_AVX2 inline __m256 apply_activation_avx2(activation act, __m256 v) noexcept {
  switch (act) {
    case activation::none: return v;
    case activation::relu: return _mm256_max_ps(v, _mm256_setzero_ps());
    case activation::gelu: return gelu_avx2(v);
    case activation::sigmoid: return sigmoid_avx2(v);
    case activation::tanh: return tanh_avx2(v);
  }
  return v;
}

// Stores the first `valid` (0..8) floats of v at dst.
POWERBATCH_TARGET_AVX2 inline void store_first_avx2(float* dst, __m256 v, std::size_t valid) noexcept {
  if (valid >= 8) {
    _mm256_storeu_ps(dst, v);
  } else if (valid > 0) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), lane);
    _mm256_maskstore_ps(dst, mask, v);
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE

#endif  // POWERBATCH_COMPUTE_X86_DISPATCH
