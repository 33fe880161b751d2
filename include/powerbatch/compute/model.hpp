// compute::load_mlp — loads an MLP from a model folder: a manifest naming .npy weight files.
//
// The manifest is a text file called `manifest` in the folder, one directive per line; `#` starts a comment:
//
//   input 64                                  optional: the input width, checked against the first layer
//   scaling mean.npy std.npy                  optional: standardise inputs, x' = (x - mean) / std, both [input]
//   layer fc1.weight.npy fc1.bias.npy relu    one per layer, in order: weight [out, in] (PyTorch's nn.Linear
//   layer fc2.weight.npy fc2.bias.npy none      layout), bias [out] or `-` for none, then none|relu|gelu|sigmoid|tanh
//   output softmax                            optional: softmax (or none, the default) over the last layer
//
// File names are relative to the folder. Arrays are '<f4' (or '<f8', converted). Every error is a
// model_file_error naming the file at fault (and the manifest line): a missing file, a wrong dtype, truncated data,
// a weight that is not 2-D, a bias of the wrong length, shapes that do not chain from one layer to the next, an
// unknown directive or activation, a directive with the wrong number of fields.
#pragma once

#include <powerbatch/compute/mlp.hpp>
#include <powerbatch/compute/npy.hpp>
#include <powerbatch/compute/scaling.hpp>
#include <powerbatch/config.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// The manifest's content, before any weight is read.
struct mlp_manifest {
  struct layer_entry {
    std::filesystem::path weight_file;
    std::optional<std::filesystem::path> bias_file;  // none: `-`
    compute::activation activation = compute::activation::none;
    std::size_t line = 0;
  };
  std::filesystem::path file;  // the manifest itself
  std::optional<std::size_t> input_size;
  std::size_t input_line = 0;
  std::optional<std::pair<std::filesystem::path, std::filesystem::path>> scaling;  // mean, std
  std::size_t scaling_line = 0;
  std::vector<layer_entry> layers;
  bool softmax_output = false;
};

inline constexpr const char* manifest_file_name = "manifest";

// Reads `folder/manifest` (or the file itself when given one). Paths in the result are resolved against the folder.
inline mlp_manifest read_mlp_manifest(const std::filesystem::path& folder_or_file) {
  std::error_code ec;
  const bool is_file = std::filesystem::is_regular_file(folder_or_file, ec);
  const std::filesystem::path file = is_file ? folder_or_file : folder_or_file / manifest_file_name;
  const std::filesystem::path folder = is_file ? folder_or_file.parent_path() : folder_or_file;
  if (!std::filesystem::exists(folder_or_file, ec)) throw model_file_error(folder_or_file, "no such model folder");
  if (!std::filesystem::exists(file, ec))
    throw model_file_error(file, "no manifest in the model folder (see compute/model.hpp for its format)");
  std::ifstream in(file);
  if (!in) throw model_file_error(file, "cannot be opened for reading");

  mlp_manifest manifest;
  manifest.file = file;
  bool saw_output = false;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    if (const auto hash = text.find('#'); hash != std::string::npos) text.resize(hash);
    std::istringstream words(text);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(std::move(w));
    if (fields.empty()) continue;
    const std::string& directive = fields[0];
    auto need = [&](std::size_t count, const char* usage) {
      if (fields.size() != count + 1)
        throw model_file_error(file, "'" + directive + "' takes " + std::to_string(count) + " field" +
                                         (count == 1 ? "" : "s") + " (" + usage + "), found " +
                                         std::to_string(fields.size() - 1), line);
    };
    if (directive == "layer") {
      need(3, "layer WEIGHT.npy BIAS.npy|- ACTIVATION");
      const auto act = activation_from_string(fields[3]);
      if (!act)
        throw model_file_error(file, "unknown activation '" + fields[3] +
                                         "' (expected none, relu, gelu, sigmoid or tanh)", line);
      mlp_manifest::layer_entry entry;
      entry.weight_file = folder / fields[1];
      if (fields[2] != "-") entry.bias_file = folder / fields[2];
      entry.activation = *act;
      entry.line = line;
      manifest.layers.push_back(std::move(entry));
    } else if (directive == "input") {
      need(1, "input WIDTH");
      if (manifest.input_size) throw model_file_error(file, "a second 'input' line", line);
      std::size_t consumed = 0;
      unsigned long long value = 0;
      try {
        value = std::stoull(fields[1], &consumed);
      } catch (const std::exception&) {
        consumed = 0;
      }
      if (consumed != fields[1].size() || value == 0 || fields[1][0] == '-')
        throw model_file_error(file, "input width '" + fields[1] + "' is not a positive integer", line);
      manifest.input_size = static_cast<std::size_t>(value);
      manifest.input_line = line;
    } else if (directive == "scaling") {
      need(2, "scaling MEAN.npy STD.npy");
      if (manifest.scaling) throw model_file_error(file, "a second 'scaling' line", line);
      manifest.scaling.emplace(folder / fields[1], folder / fields[2]);
      manifest.scaling_line = line;
    } else if (directive == "output") {
      need(1, "output softmax|none");
      if (saw_output) throw model_file_error(file, "a second 'output' line", line);
      if (fields[1] != "softmax" && fields[1] != "none")
        throw model_file_error(file, "unknown output '" + fields[1] + "' (expected softmax or none)", line);
      manifest.softmax_output = fields[1] == "softmax";
      saw_output = true;
    } else {
      throw model_file_error(file, "unknown directive '" + directive + "' (expected input, scaling, layer or output)",
                             line);
    }
  }
  if (in.bad()) throw model_file_error(file, "read error");
  if (manifest.layers.empty()) throw model_file_error(file, "no 'layer' line: a model needs at least one layer");
  return manifest;
}

// Loads the weights a manifest names, checking every shape; the model is ready to run.
inline mlp_model load_mlp(const mlp_manifest& manifest) {
  std::vector<mlp_layer_weights> layers;
  layers.reserve(manifest.layers.size());
  std::size_t previous_out = manifest.input_size.value_or(0);
  for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
    const auto& entry = manifest.layers[i];
    npy_array<float> weight = read_npy_float32(entry.weight_file);
    if (weight.rank() != 2 || weight.shape[0] == 0 || weight.shape[1] == 0)
      throw model_file_error(entry.weight_file, "a layer's weight must be 2-D [out, in] and not empty, this is " +
                                                    shape_to_string(weight.shape) + " (manifest line " +
                                                    std::to_string(entry.line) + ")");
    const std::size_t out = weight.shape[0], in = weight.shape[1];
    if (i == 0 && manifest.input_size && in != *manifest.input_size)
      throw model_file_error(entry.weight_file, "layer 1 takes " + std::to_string(in) + " inputs but the manifest "
                                                "says 'input " + std::to_string(*manifest.input_size) + "' (line " +
                                                std::to_string(manifest.input_line) + ")");
    if (i > 0 && in != previous_out)
      throw model_file_error(entry.weight_file, "shapes do not chain: layer " + std::to_string(i + 1) + " takes " +
                                                    std::to_string(in) + " inputs (weight " +
                                                    shape_to_string(weight.shape) + ") but layer " +
                                                    std::to_string(i) + " gives " + std::to_string(previous_out) +
                                                    " outputs (manifest line " + std::to_string(entry.line) + ")");
    mlp_layer_weights layer;
    layer.name = entry.weight_file.filename().string();
    layer.in_features = in;
    layer.out_features = out;
    layer.weights = std::move(weight.values);
    layer.activation = entry.activation;
    if (entry.bias_file) {
      npy_array<float> bias = read_npy_float32(*entry.bias_file);
      if (bias.rank() != 1 || bias.shape[0] != out)
        throw model_file_error(*entry.bias_file, "bias has shape " + shape_to_string(bias.shape) + " but " +
                                                     entry.weight_file.filename().string() + " has " +
                                                     std::to_string(out) + " outputs, so it must be [" +
                                                     std::to_string(out) + "] (manifest line " +
                                                     std::to_string(entry.line) + ")");
      layer.bias = std::move(bias.values);
    } else {
      layer.bias.assign(out, 0.0f);
    }
    previous_out = out;
    layers.push_back(std::move(layer));
  }
  std::optional<feature_scaling> scaling;
  if (manifest.scaling) {
    scaling = load_feature_scaling(manifest.scaling->first, manifest.scaling->second);
    if (scaling->features() != layers.front().in_features)
      throw model_file_error(manifest.scaling->first, "scaling has " + std::to_string(scaling->features()) +
                                                          " features but layer 1 takes " +
                                                          std::to_string(layers.front().in_features) +
                                                          " inputs (manifest line " +
                                                          std::to_string(manifest.scaling_line) + ")");
  }
  return mlp_model(std::move(layers), std::move(scaling), manifest.softmax_output);
}

// Reads the folder's manifest and loads the model it describes.
inline mlp_model load_mlp(const std::filesystem::path& folder) { return load_mlp(read_mlp_manifest(folder)); }

}  // namespace compute
POWERBATCH_END_NAMESPACE
