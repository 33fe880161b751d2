// The lab's real models: `digits` (the trained 64-32-16-10 digits classifier in examples/models/digits, run by the
// CPU MLP backend) and `mlp1024` (a 1024-1024-1024-10 MLP with random weights on the same dense kernels). Each
// request runs one prepared input (a held-out digit image, or a random vector), chosen by the item's index.
#pragma once

#include <powerbatch/compute/mlp.hpp>
#include <powerbatch/compute/model.hpp>
#include <powerbatch/compute/npy.hpp>
#include <powerbatch/lab/backend.hpp>
#include <powerbatch/lab/random.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

namespace models_detail {

// Runs an MLP over gathered input rows; one scratch per model (the lab's compute thread is the only caller).
inline model mlp_backend(std::string name, std::shared_ptr<const compute::mlp_model> mlp, std::vector<float> inputs,
                         std::size_t max_batch) {
  struct state {
    std::shared_ptr<const compute::mlp_model> mlp;
    std::vector<float> inputs;  // rows of mlp->input_size()
    std::size_t rows = 0;
    std::vector<float> x, y, scratch;
  };
  auto s = std::make_shared<state>();
  s->mlp = std::move(mlp);
  s->inputs = std::move(inputs);
  const std::size_t width = s->mlp->input_size(), classes = s->mlp->output_size();
  s->rows = s->inputs.size() / width;
  s->x.resize(max_batch * width);
  s->y.resize(max_batch * classes);
  s->scratch.resize(s->mlp->scratch_size(max_batch));
  return model{std::move(name), max_batch, [s, width, classes](std::span<const item> in, std::span<std::int32_t> out) {
                 const std::size_t n = in.size();
                 for (std::size_t i = 0; i < n; ++i)
                   std::copy_n(s->inputs.begin() + static_cast<std::ptrdiff_t>((in[i].index % s->rows) * width),
                               width, s->x.begin() + static_cast<std::ptrdiff_t>(i * width));
                 s->mlp->forward(s->x.data(), n, s->y.data(), s->scratch);
                 for (std::size_t i = 0; i < n; ++i) {
                   const float* row = s->y.data() + i * classes;
                   out[i] = static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
                 }
               }};
}

}  // namespace models_detail

// The digits classifier from `folder` (manifest + .npy weights + X_test.npy); inputs are its held-out images.
inline model digits_model(const std::filesystem::path& folder, std::size_t max_batch = 256) {
  auto mlp = std::make_shared<const compute::mlp_model>(compute::load_mlp(folder));
  compute::npy_array<float> images = compute::read_npy_float32(folder / "X_test.npy");
  if (images.rank() != 2 || images.shape[1] != mlp->input_size() || images.shape[0] == 0)
    throw input_error((folder / "X_test.npy").string() + ": expected [n, " + std::to_string(mlp->input_size()) +
                      "] test images");
  return models_detail::mlp_backend("digits", std::move(mlp), std::move(images.values), max_batch);
}

// 1024-1024-1024-10, ReLU, weights uniform in ±1/sqrt(1024) from a fixed seed; 64 random input vectors.
inline model mlp1024_model(std::size_t max_batch = 256) {
  random_source rng(1024);
  const std::size_t widths[] = {1024, 1024, 1024, 10};
  std::vector<compute::mlp_layer_weights> layers;
  for (std::size_t i = 0; i + 1 < std::size(widths); ++i) {
    compute::mlp_layer_weights layer;
    layer.name = "mlp1024.fc" + std::to_string(i + 1);
    layer.in_features = widths[i];
    layer.out_features = widths[i + 1];
    layer.weights.resize(layer.in_features * layer.out_features);
    const double scale = 1.0 / std::sqrt(static_cast<double>(layer.in_features));
    for (float& w : layer.weights) w = static_cast<float>((rng.uniform() * 2 - 1) * scale);
    layer.bias.assign(layer.out_features, 0.0f);
    layer.activation = i + 2 < std::size(widths) ? compute::activation::relu : compute::activation::none;
    layers.push_back(std::move(layer));
  }
  auto mlp = std::make_shared<const compute::mlp_model>(std::move(layers), std::nullopt, false);
  std::vector<float> inputs(64 * 1024);
  for (float& v : inputs) v = static_cast<float>(rng.uniform() * 2 - 1);
  return models_detail::mlp_backend("mlp1024", std::move(mlp), std::move(inputs), max_batch);
}

// Adds digits (from `digits_folder`, or the folder after "digits:") and mlp1024 to a registry.
inline void add_mlp_models(model_registry& registry, std::filesystem::path digits_folder) {
  registry.add("digits", "the trained digits classifier (examples/models/digits); digits:FOLDER for another copy",
               [digits_folder](const std::string& args) {
                 return digits_model(args.empty() ? digits_folder : std::filesystem::path(args));
               });
  registry.add("mlp1024", "1024-1024-1024-10 MLP, random weights, fp32 dense kernels",
               [](const std::string&) { return mlp1024_model(); });
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
