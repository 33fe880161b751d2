// bench_kernels — the benchmark's model: a 1024-1024-1024-10 MLP (relu, relu, none, then softmax) with random
// weights in PyTorch nn.Linear layout, shared by the powerbatch and Eigen variants so both compute the same thing.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace bench_kernels {

struct layer_weights {
  std::size_t in = 0;
  std::size_t out = 0;
  std::vector<float> weights;  // w[out][in]
  std::vector<float> bias;     // b[out]
};

struct mlp_weights {
  std::array<layer_weights, 3> layers;

  std::size_t input_size() const { return layers.front().in; }
  std::size_t output_size() const { return layers.back().out; }
  std::size_t multiply_adds_per_sample() const {
    std::size_t total = 0;
    for (const auto& l : layers) total += l.in * l.out;
    return total;
  }
  std::size_t weight_count() const { return multiply_adds_per_sample(); }
};

// He-style uniform initialisation, as nn.Linear's default, so activations stay O(1) through the layers.
inline mlp_weights make_mlp(std::size_t input = 1024, std::size_t hidden = 1024, std::size_t classes = 10,
                            unsigned seed = 42) {
  std::mt19937 rng(seed);
  mlp_weights m;
  const std::array<std::size_t, 4> sizes{input, hidden, hidden, classes};
  for (std::size_t l = 0; l < 3; ++l) {
    layer_weights& layer = m.layers[l];
    layer.in = sizes[l];
    layer.out = sizes[l + 1];
    const float bound = 1.0f / static_cast<float>(std::sqrt(static_cast<double>(layer.in)));
    std::uniform_real_distribution<float> uniform(-bound, bound);
    layer.weights.resize(layer.in * layer.out);
    layer.bias.resize(layer.out);
    for (float& w : layer.weights) w = uniform(rng);
    for (float& b : layer.bias) b = uniform(rng);
  }
  return m;
}

}  // namespace bench_kernels
