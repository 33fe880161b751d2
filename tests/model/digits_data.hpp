// The digits model's held-out split and the measures the model tests take of it (top-1 labels, agreement).
#pragma once

#include <powerbatch/compute/npy.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace model_test {

inline const std::filesystem::path digits_dir = POWERBATCH_DIGITS_DIR;

struct held_out {
  powerbatch::compute::npy_array<float> x = powerbatch::compute::read_npy_float32(digits_dir / "X_test.npy");
  powerbatch::compute::npy_array<std::int64_t> y = powerbatch::compute::read_npy_int64(digits_dir / "y_test.npy");
  std::size_t count() const { return y.values.size(); }
};

// The top-1 label of each row of `classes` scores.
inline std::vector<std::int64_t> predictions(const std::vector<float>& outputs, std::size_t classes) {
  std::vector<std::int64_t> labels(outputs.size() / classes);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const float* row = outputs.data() + i * classes;
    labels[i] = std::max_element(row, row + classes) - row;
  }
  return labels;
}

// The fraction of positions where a and b hold the same label.
inline double agreement(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / double(a.size());
}

// A compute:: model's outputs over the whole split.
template <class Model>
std::vector<float> outputs_of(const Model& model, const held_out& data) {
  std::vector<float> out(data.count() * model.output_size());
  model.forward(data.x.values.data(), data.count(), out.data());
  return out;
}

}  // namespace model_test
