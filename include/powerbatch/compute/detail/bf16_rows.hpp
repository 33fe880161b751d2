// compute::detail — rows of activations rounded to bf16 for the bf16 kernels, and the per-thread buffer they go in
// (grow-only, so steady-state calls allocate nothing). Both roundings are to nearest even and give the same bits
// (vcvtneps2bf16 also treats denormal inputs as zero: a difference below 1.2e-38).
#pragma once

#include <powerbatch/compute/detail/target_avx512.hpp>
#include <powerbatch/compute/packed_dense_bf16.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

inline std::vector<std::uint16_t>& thread_bf16_rows() {
  thread_local std::vector<std::uint16_t> buffer;
  return buffer;
}

// rows x in floats -> rows x padded_in bf16 values (zeros past in).
inline void round_rows_to_bf16(const float* x, std::size_t rows, std::size_t in, std::size_t padded_in,
                               std::uint16_t* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < in; ++i) out[r * padded_in + i] = to_bf16(x[r * in + i]);
    for (std::size_t i = in; i < padded_in; ++i) out[r * padded_in + i] = 0;
  }
}

#if POWERBATCH_COMPUTE_X86_DISPATCH
POWERBATCH_TARGET_AVX512_BF16 inline void round_rows_to_bf16_avx512(const float* x, std::size_t rows, std::size_t in,
                                                                    std::size_t padded_in,
                                                                    std::uint16_t* out) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * in;
    std::uint16_t* dst = out + r * padded_in;
    std::size_t i = 0;
    for (; i + 16 <= in; i += 16) {
      const __m256bh rounded = _mm512_cvtneps_pbh(_mm512_loadu_ps(row + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), (__m256i)rounded);
    }
    for (; i < in; ++i) dst[i] = to_bf16(row[i]);
    for (; i < padded_in; ++i) dst[i] = 0;
  }
}
#endif

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
