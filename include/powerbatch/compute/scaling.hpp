// compute::feature_scaling — standardise inputs with a stored mean and standard deviation (seed 003's
// enable_feature_scaling; scikit-learn's StandardScaler): x' = (x - mean) / std, feature by feature.
//
// An optional preprocessing stage: an MLP model folder may name mean.npy and std.npy in its manifest (the model then
// standardises its own inputs), and backend::tensor_batch can apply one while it gathers a batch.
#pragma once

#include <powerbatch/compute/npy.hpp>
#include <powerbatch/config.hpp>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

class feature_scaling {
 public:
  // Throws std::invalid_argument if the sizes differ, or a std is not finite and positive (StandardScaler stores 1
  // for a feature that never varies, so a trained scaler never has 0).
  feature_scaling(std::vector<float> mean, std::vector<float> std) : mean_(std::move(mean)) {
    if (mean_.size() != std.size())
      throw std::invalid_argument("feature_scaling: mean has " + std::to_string(mean_.size()) + " values, std has " +
                                  std::to_string(std.size()));
    inverse_std_.resize(std.size());
    for (std::size_t i = 0; i < std.size(); ++i) {
      if (!(std::isfinite(std[i]) && std[i] > 0.0f))
        throw std::invalid_argument("feature_scaling: std[" + std::to_string(i) + "] is " + std::to_string(std[i]) +
                                    "; every std must be finite and positive");
      if (!std::isfinite(mean_[i]))
        throw std::invalid_argument("feature_scaling: mean[" + std::to_string(i) + "] is not finite");
      inverse_std_[i] = 1.0f / std[i];
    }
  }

  std::size_t features() const noexcept { return mean_.size(); }
  std::span<const float> mean() const noexcept { return mean_; }

  // Scales `rows` rows of features() values from `in` into `out` (which may be `in`).
  void apply(const float* in, std::size_t rows, float* out) const noexcept {
    const std::size_t d = mean_.size();
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < d; ++c) out[r * d + c] = (in[r * d + c] - mean_[c]) * inverse_std_[c];
  }
  void apply(float* rows_in_place, std::size_t rows) const noexcept { apply(rows_in_place, rows, rows_in_place); }

 private:
  std::vector<float> mean_;
  std::vector<float> inverse_std_;
};

// Loads mean and std from two .npy files of shape [features]; errors name the file at fault.
inline feature_scaling load_feature_scaling(const std::filesystem::path& mean_file,
                                            const std::filesystem::path& std_file) {
  npy_array<float> mean = read_npy_float32(mean_file);
  npy_array<float> std = read_npy_float32(std_file);
  if (mean.rank() != 1)
    throw model_file_error(mean_file, "a scaling mean must be 1-D [features], this is " + shape_to_string(mean.shape));
  if (std.rank() != 1)
    throw model_file_error(std_file, "a scaling std must be 1-D [features], this is " + shape_to_string(std.shape));
  if (mean.size() != std.size())
    throw model_file_error(std_file, "has " + std::to_string(std.size()) + " values but " + mean_file.string() +
                                         " has " + std::to_string(mean.size()));
  for (std::size_t i = 0; i < std.size(); ++i)
    if (!(std::isfinite(std.values[i]) && std.values[i] > 0.0f))
      throw model_file_error(std_file, "std[" + std::to_string(i) + "] is " + std::to_string(std.values[i]) +
                                           "; every std must be finite and positive");
  for (std::size_t i = 0; i < mean.size(); ++i)
    if (!std::isfinite(mean.values[i]))
      throw model_file_error(mean_file, "mean[" + std::to_string(i) + "] is not finite");
  return feature_scaling(std::move(mean.values), std::move(std.values));
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
