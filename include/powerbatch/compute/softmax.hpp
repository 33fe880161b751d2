// compute::softmax_rows — in-place, numerically stable softmax over each row of a row-major matrix.
//
// Subtracting the row maximum keeps exp() in range for any finite input; a row of -inf stays NaN-free only if at
// least one entry is finite (all -inf has no defined softmax, and gives NaN as PyTorch does).
#pragma once

#include <powerbatch/config.hpp>

#include <cmath>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

inline void softmax_rows(float* y, std::size_t rows, std::size_t cols) noexcept {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = y + r * cols;
    if (cols == 0) continue;
    float max_value = row[0];
    for (std::size_t c = 1; c < cols; ++c) max_value = row[c] > max_value ? row[c] : max_value;
    // Accumulate in double: rows are short (class scores) and it keeps the sum exact to float precision.
    double sum = 0.0;
    for (std::size_t c = 0; c < cols; ++c) {
      row[c] = std::exp(row[c] - max_value);
      sum += row[c];
    }
    const float inverse = static_cast<float>(1.0 / sum);
    for (std::size_t c = 0; c < cols; ++c) row[c] *= inverse;
  }
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
