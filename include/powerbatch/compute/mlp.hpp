// compute::mlp_model, compute::quantized_mlp, compute::quantized_int4_mlp, compute::bf16_mlp — a multilayer
// perceptron ready to run: optional feature scaling, dense + bias + activation layers on the packed kernels of
// dense.hpp / dense_int4.hpp / dense_bf16.hpp, and an optional softmax on the output.
//
//   mlp_model fp32 = load_mlp("examples/models/digits");   // model.hpp: reads the folder's manifest and .npy files
//   quantized_mlp int8 = quantize_int8(fp32);               // seed 001's quantization_method="int8", done by the user
//   quantized_int4_mlp int4 = quantize_int4(fp32);          // weight-only int4, per-64-input-group scales
//   bf16_mlp w16 = quantize_bf16(fp32);                     // bf16 weights and activations (AVX512-BF16)
//   std::vector<float> scratch(fp32.scratch_size(n));
//   fp32.forward(x, n, y, scratch);                          // x: [n, input_size()], y: [n, output_size()]
//
// Both are immutable once built, so any number of threads may run forward() on one model at once, each with its
// own scratch. forward() never allocates; large batches split across the threads of parallel_options' executor.
#pragma once

#include <powerbatch/compute/dense.hpp>
#include <powerbatch/compute/dense_bf16.hpp>
#include <powerbatch/compute/dense_int4.hpp>
#include <powerbatch/compute/scaling.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// One layer as it was loaded: the float weights [out][in] and bias [out], kept so that the model can be quantised
// (or exported) later. `name` is the weight file, for messages.
struct mlp_layer_weights {
  std::string name;
  std::size_t in_features = 0;
  std::size_t out_features = 0;
  std::vector<float> weights;  // [out_features][in_features], row-major (PyTorch's nn.Linear.weight layout)
  std::vector<float> bias;     // [out_features]
  compute::activation activation = compute::activation::none;
};

// The runnable network over one kernel type (packed_dense_fp32, quantized_dense_int8 or quantized_dense_int4).
template <class Kernel>
class basic_mlp {
 public:
  struct layer {
    Kernel kernel;
    compute::activation activation;
  };

  basic_mlp(std::vector<layer> layers, std::optional<feature_scaling> scaling, bool softmax_output)
      : layers_(std::move(layers)), scaling_(std::move(scaling)), softmax_output_(softmax_output) {
    if (layers_.empty()) throw std::invalid_argument("an MLP needs at least one layer");
    for (std::size_t i = 1; i < layers_.size(); ++i)
      if (layers_[i].kernel.in_features() != layers_[i - 1].kernel.out_features())
        throw std::invalid_argument("MLP layer " + std::to_string(i + 1) + " takes " +
                                    std::to_string(layers_[i].kernel.in_features()) + " inputs but layer " +
                                    std::to_string(i) + " gives " +
                                    std::to_string(layers_[i - 1].kernel.out_features()));
    if (scaling_ && scaling_->features() != input_size())
      throw std::invalid_argument("MLP feature scaling has " + std::to_string(scaling_->features()) +
                                  " features but the first layer takes " + std::to_string(input_size()));
    for (std::size_t i = 0; i + 1 < layers_.size(); ++i)
      hidden_width_ = std::max(hidden_width_, layers_[i].kernel.out_features());
  }

  std::size_t input_size() const noexcept { return layers_.front().kernel.in_features(); }
  std::size_t output_size() const noexcept { return layers_.back().kernel.out_features(); }
  std::span<const layer> layers() const noexcept { return layers_; }
  const std::optional<feature_scaling>& scaling() const noexcept { return scaling_; }
  bool softmax_output() const noexcept { return softmax_output_; }

  // Bytes of packed weights, for memory accounting.
  std::size_t bytes() const noexcept {
    std::size_t total = 0;
    for (const auto& l : layers_) total += l.kernel.bytes();
    return total;
  }

  // Floats of scratch forward() needs for a batch of `batch` rows: the scaled input, and two hidden activations.
  std::size_t scratch_size(std::size_t batch) const noexcept { return batch * scratch_per_row(); }
  std::size_t scratch_per_row() const noexcept {
    return (scaling_ ? input_size() : 0) + (layers_.size() > 2 ? 2 : layers_.size() - 1) * hidden_width_;
  }

  // x: [batch, input_size()] row-major; y: [batch, output_size()]; scratch: at least scratch_size(batch) floats.
  // x and y must not overlap.
  void forward(const float* x, std::size_t batch, float* y, std::span<float> scratch,
               const parallel_options& parallel = {}) const {
    if (scratch.size() < scratch_size(batch))
      throw std::invalid_argument("mlp forward: scratch holds " + std::to_string(scratch.size()) +
                                  " floats, a batch of " + std::to_string(batch) + " needs " +
                                  std::to_string(scratch_size(batch)));
    if (batch == 0) return;
    float* free_space = scratch.data();
    const float* current = x;
    if (scaling_) {
      scaling_->apply(x, batch, free_space);
      current = free_space;
      free_space += batch * input_size();
    }
    float* hidden[2] = {free_space, free_space + batch * hidden_width_};
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      float* destination = i + 1 == layers_.size() ? y : hidden[i % 2];
      dense_forward(layers_[i].kernel, current, batch, destination, layers_[i].activation, parallel);
      current = destination;
    }
    if (softmax_output_) softmax_rows(y, batch, output_size());
  }

  // The same, with scratch allocated for this call (tests, tools; a server leases it from a Pool instead).
  void forward(const float* x, std::size_t batch, float* y, const parallel_options& parallel = {}) const {
    std::vector<float> scratch(scratch_size(batch));
    forward(x, batch, y, scratch, parallel);
  }

 private:
  std::vector<layer> layers_;
  std::optional<feature_scaling> scaling_;
  bool softmax_output_ = false;
  std::size_t hidden_width_ = 0;
};

using quantized_mlp = basic_mlp<quantized_dense_int8>;
using quantized_int4_mlp = basic_mlp<quantized_dense_int4>;
using bf16_mlp = basic_mlp<packed_dense_bf16>;

// The fp32 model, which also keeps its float weights so that quantize_int8() can be called on it.
class mlp_model : public basic_mlp<packed_dense_fp32> {
 public:
  mlp_model(std::vector<mlp_layer_weights> weights, std::optional<feature_scaling> scaling, bool softmax_output)
      : basic_mlp(pack(weights), std::move(scaling), softmax_output), weights_(std::move(weights)) {}

  std::span<const mlp_layer_weights> weights() const noexcept { return weights_; }

 private:
  static std::vector<layer> pack(const std::vector<mlp_layer_weights>& weights) {
    std::vector<layer> layers;
    layers.reserve(weights.size());
    for (const auto& w : weights)
      layers.push_back(layer{packed_dense_fp32(w.weights, w.out_features, w.in_features, w.bias), w.activation});
    return layers;
  }

  std::vector<mlp_layer_weights> weights_;
};

// int8 weights with per-output-channel scales (dense.hpp's quantize_int8); scaling, activations and softmax are
// kept. The fp32 model is unchanged and still usable.
inline quantized_mlp quantize_int8(const mlp_model& model) {
  std::vector<quantized_mlp::layer> layers;
  layers.reserve(model.weights().size());
  for (const auto& w : model.weights())
    layers.push_back(quantized_mlp::layer{quantize_int8(w.weights, w.out_features, w.in_features, w.bias),
                                          w.activation});
  return quantized_mlp(std::move(layers), model.scaling(), model.softmax_output());
}

// Weight-only int4 with per-channel, per-group scales (dense_int4.hpp's quantize_int4; group_size a positive
// multiple of 8, else std::invalid_argument naming it); scaling, activations and softmax are kept, fp32 untouched.
inline quantized_int4_mlp quantize_int4(const mlp_model& model,
                                        std::size_t group_size = quantized_dense_int4::default_group_size) {
  std::vector<quantized_int4_mlp::layer> layers;
  layers.reserve(model.weights().size());
  for (const auto& w : model.weights())
    layers.push_back(quantized_int4_mlp::layer{
        quantize_int4(w.weights, w.out_features, w.in_features, w.bias, group_size), w.activation});
  return quantized_int4_mlp(std::move(layers), model.scaling(), model.softmax_output());
}

// Weights rounded to bf16 (dense_bf16.hpp's quantize_bf16; activations are rounded per call); scaling, activations
// and softmax are kept, fp32 untouched. Worth it only where the CPU has AVX512-BF16.
inline bf16_mlp quantize_bf16(const mlp_model& model) {
  std::vector<bf16_mlp::layer> layers;
  layers.reserve(model.weights().size());
  for (const auto& w : model.weights())
    layers.push_back(
        bf16_mlp::layer{quantize_bf16(w.weights, w.out_features, w.in_features, w.bias), w.activation});
  return bf16_mlp(std::move(layers), model.scaling(), model.softmax_output());
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
