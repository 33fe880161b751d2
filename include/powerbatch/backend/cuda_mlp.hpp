// backend::cuda_mlp — an MLP on an NVIDIA GPU through cuBLASLt as a tensor backend; header-only, no .cu file.
//
//   auto gpu = pb::backend::cuda_mlp::load("examples/models/digits",
//                                          {.precision = pb::cuda::precision::fp16, .max_batch_size = 256});
//   gpu.warm_up();                                          // plans every batch size, loads every kernel
//   gpu.forward(x, n, y);                                   // float[n][in] -> float[n][out], or run(tensor views)
//   pb::backend::tensor_batch<pb::backend::cuda_mlp> backend(std::move(gpu));   // for the Batcher
// It takes the same models as cpu_mlp: a compute::mlp_model (or a model folder, compute/model.hpp), or a
// cuda_mlp_model built in code from compute::mlp_layer_weights (no CPU packing).
//
// How a batch runs: it takes one of `max_in_flight` lanes (a stream, a completion event, device buffers and a
// cuBLASLt handle of its own, so that concurrent calls overlap on the GPU); its inputs are staged in pinned host
// memory from a compute::Pool<cuda::pinned_allocator> — feature-scaled and converted to fp16 / bf16 on the way in
// when the model and precision ask for it — and copied up asynchronously; each layer is one cublasLtMatmul whose
// epilogue adds the bias and applies the activation (BIAS, RELU_BIAS, GELU_BIAS); the result comes back to pinned
// memory while the thread sleeps on the event (no spinning), is converted to float, and gets the softmax on the
// host if the model has one. cuBLASLt's algorithm choice is cached per batch size; larger batches than
// max_batch_size run in pieces.
//
// Supported activations: none, relu, gelu — cuBLASLt's GELU is the tanh approximation, which differs from the
// exact erf form of compute::activation::gelu (and so of cpu_mlp) by up to 4.7e-4, plus the device's own rounding
// of tanh (tests/cuda checks the total stays below 2e-3). sigmoid and tanh have no cuBLASLt epilogue: a model
// using them is rejected at construction with std::invalid_argument naming the layer (run it on cpu_mlp).
// Precisions: fp32 (optionally TF32 tensor cores), fp16 and bf16 (tensor cores); weights are converted once at
// construction and uploaded; accumulation is fp32 in every case; outputs come back as float. Inputs, weights and
// every layer's outputs are stored in the chosen precision: fp16 tops out at 65504 (from 65520 up: infinity);
// bf16 has fp32's range with 8 bits of mantissa.
//
// Errors: a malformed model or config throws std::invalid_argument naming the layer and field, before any CUDA
// call. CUDA and cuBLAS failures throw cuda::error (an std::system_error whose code() is in cuda::runtime_category()
// or cuda::cublas_category() and whose what() names the failing call); with no usable GPU the code compares equal
// to std::errc::no_such_device. Under a Batcher a throwing run() fails only that batch (errc::backend_failed).
//
// Thread-safety: forward() / run() may be called from several threads at once (max_in_flight of them run
// concurrently, the others wait for a lane). Construction, warm_up() and destruction are not concurrent with
// anything. Move-only (it owns GPU memory); tensor_batch takes it by move.
// Link with libcudart and libcublasLt (tests/cuda/meson.build shows how to find them).
#pragma once

#include <powerbatch/compute/activation.hpp>
#include <powerbatch/compute/mlp.hpp>
#include <powerbatch/compute/model.hpp>
#include <powerbatch/compute/pool.hpp>
#include <powerbatch/compute/scaling.hpp>
#include <powerbatch/compute/softmax.hpp>
#include <powerbatch/concepts/tensor_backend.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/cuda/cublaslt.hpp>
#include <powerbatch/cuda/error.hpp>
#include <powerbatch/cuda/gemm_plan.hpp>
#include <powerbatch/cuda/half_precision.hpp>
#include <powerbatch/cuda/pinned_allocator.hpp>
#include <powerbatch/cuda/runtime.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace backend {

// A network built in code: layers in PyTorch nn.Linear's layout (compute::mlp_layer_weights: weights [out][in]
// row-major, bias [out] or empty for none, activation), optional input standardisation, optional output softmax.
struct cuda_mlp_model {
  std::vector<compute::mlp_layer_weights> layers;
  std::optional<compute::feature_scaling> scaling;  // x' = (x - mean) / std, applied on the host while staging
  bool softmax_output = false;                      // over each output row, on the host after the copy back
};

struct cuda_mlp_config {
  cuda::precision precision = cuda::precision::fp32;
  bool allow_tf32 = false;                        // fp32 only: TF32 tensor cores (10-bit mantissa inputs)
  std::size_t max_batch_size = 256;               // rows per GEMM; larger forward() calls are split
  std::size_t max_in_flight = 2;                  // batches on the GPU at once, one stream (lane) each
  int device = 0;                                 // CUDA device ordinal
  std::size_t workspace_bytes = std::size_t{8} << 20;  // cuBLASLt workspace per lane
};

namespace cuda_mlp_detail {

[[noreturn]] inline void reject(const std::string& what) { throw std::invalid_argument("cuda_mlp: " + what); }

// Everything that can be wrong with a model or config before the GPU is touched, named precisely. Layers are
// numbered from 1, as the model manifest and cpu_mlp number them, and named by their weight file when they have one.
inline void validate(const cuda_mlp_model& model, const cuda_mlp_config& config) {
  if (model.layers.empty()) reject("the model has no layers");
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const compute::mlp_layer_weights& layer = model.layers[i];
    const std::string name =
        "layer " + std::to_string(i + 1) + (layer.name.empty() ? std::string() : " (" + layer.name + ")");
    if (layer.in_features == 0 || layer.out_features == 0)
      reject(name + ": in_features (" + std::to_string(layer.in_features) + ") and out_features (" +
             std::to_string(layer.out_features) + ") must both be at least 1");
    if (layer.weights.size() != layer.in_features * layer.out_features)
      reject(name + ": weights has " + std::to_string(layer.weights.size()) +
             " values, expected out_features x in_features = " + std::to_string(layer.out_features) + " x " +
             std::to_string(layer.in_features) + " = " + std::to_string(layer.out_features * layer.in_features) +
             " (layout w[out][in])");
    if (!layer.bias.empty() && layer.bias.size() != layer.out_features)
      reject(name + ": bias has " + std::to_string(layer.bias.size()) + " values, expected out_features = " +
             std::to_string(layer.out_features) + " (or none)");
    if (i > 0 && layer.in_features != model.layers[i - 1].out_features)
      reject(name + ": in_features is " + std::to_string(layer.in_features) + " but layer " + std::to_string(i) +
             " has " + std::to_string(model.layers[i - 1].out_features) + " out_features");
    const cuda::epilogue_choice epilogue = cuda::epilogue_for(layer.activation);
    if (!epilogue.supported)
      reject(name + ": activation " + std::string(compute::to_string(layer.activation)) + " is not supported: " +
             std::string(epilogue.why_not));
  }
  if (model.scaling && model.scaling->features() != model.layers.front().in_features)
    reject("scaling has " + std::to_string(model.scaling->features()) + " features but layer 1 takes " +
           std::to_string(model.layers.front().in_features));
  if (config.max_batch_size == 0) reject("config.max_batch_size must be at least 1");
  if (config.max_in_flight == 0) reject("config.max_in_flight must be at least 1");
  if (config.device < 0) reject("config.device must be a device ordinal (0 or more)");
  if (config.allow_tf32 && config.precision != cuda::precision::fp32)
    reject("config.allow_tf32 applies to fp32 only, but precision is " + std::string(to_string(config.precision)));
}

// A compute::mlp_model's layers, scaling and softmax, for the GPU.
inline cuda_mlp_model from_cpu_model(const compute::mlp_model& model) {
  cuda_mlp_model result;
  result.layers.assign(model.weights().begin(), model.weights().end());
  result.scaling = model.scaling();
  result.softmax_output = model.softmax_output();
  return result;
}

// The rows in a run() over [rows, columns] views: the widths must be the model's and the row counts equal.
inline std::size_t rows_of(std::size_t in_rows, std::size_t in_columns, std::size_t out_rows, std::size_t out_columns,
                           std::size_t input_size, std::size_t output_size) {
  if (in_columns != input_size || out_columns != output_size || in_rows != out_rows)
    reject("run: views are [" + std::to_string(in_rows) + ", " + std::to_string(in_columns) + "] -> [" +
           std::to_string(out_rows) + ", " + std::to_string(out_columns) + "], the model maps [n, " +
           std::to_string(input_size) + "] -> [n, " + std::to_string(output_size) + "]");
  return in_rows;
}

// Pinned staging buffers are pooled by shape; rounding the row count up to a power of two keeps the shapes (and
// so the pinned memory kept for reuse) to at most ceil(log2(max_batch_size)) + 1 per direction.
constexpr std::size_t staging_rows(std::size_t rows, std::size_t max_batch_size) noexcept {
  return std::min(std::bit_ceil(rows), max_batch_size);
}

// Host conversion of `count` floats into the device format (fp32 copied, fp16 / bf16 rounded to nearest even).
inline void to_device_format(cuda::precision p, const float* from, std::size_t count, void* to) noexcept {
  switch (p) {
    case cuda::precision::fp32: std::memcpy(to, from, count * sizeof(float)); return;
    case cuda::precision::fp16:
      cuda::float_to_half({from, count}, {static_cast<std::uint16_t*>(to), count});
      return;
    case cuda::precision::bf16:
      cuda::float_to_bfloat16({from, count}, {static_cast<std::uint16_t*>(to), count});
      return;
  }
}

inline void from_device_format(cuda::precision p, const void* from, std::size_t count, float* to) noexcept {
  switch (p) {
    case cuda::precision::fp32: std::memcpy(to, from, count * sizeof(float)); return;
    case cuda::precision::fp16:
      cuda::half_to_float({static_cast<const std::uint16_t*>(from), count}, {to, count});
      return;
    case cuda::precision::bf16:
      cuda::bfloat16_to_float({static_cast<const std::uint16_t*>(from), count}, {to, count});
      return;
  }
}

// Host side of a batch on the way in: feature scaling (if any) and conversion to the device format, written
// straight into the pinned staging buffer. `scaled_row` holds one row (input_size floats) when there is scaling.
inline void stage_inputs(cuda::precision p, const compute::feature_scaling* scaling, const float* x,
                         std::size_t rows, std::size_t input_size, std::span<float> scaled_row, std::byte* staged) {
  if (scaling == nullptr) {
    to_device_format(p, x, rows * input_size, staged);
    return;
  }
  POWERBATCH_ASSERT(scaled_row.size() >= input_size, "stage_inputs: the scaling scratch row is too short");
  const std::size_t row_bytes = input_size * cuda::element_bytes(p);
  for (std::size_t r = 0; r < rows; ++r) {
    scaling->apply(x + r * input_size, 1, scaled_row.data());
    to_device_format(p, scaled_row.data(), input_size, staged + r * row_bytes);
  }
}

// Host side on the way out: back to float, then the output softmax if the model has one.
inline void finish_outputs(cuda::precision p, const std::byte* staged, std::size_t rows, std::size_t output_size,
                           bool softmax_output, float* y) {
  from_device_format(p, staged, rows * output_size, y);
  if (softmax_output) compute::softmax_rows(y, rows, output_size);
}

// A fixed set of lanes handed out one at a time: take() blocks while all are in use. The lease gives its lane back.
template <class Lane>
class lane_set {
 public:
  class lease {
   public:
    lease(lane_set& owner, Lane& lane) noexcept : owner_(&owner), lane_(&lane) {}
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { owner_->give_back(*lane_); }
    Lane& operator*() const noexcept { return *lane_; }
    Lane* operator->() const noexcept { return lane_; }

   private:
    lane_set* owner_;
    Lane* lane_;
  };

  void add(std::unique_ptr<Lane> lane) {
    std::lock_guard lock(mutex_);
    free_.push_back(lane.get());
    all_.push_back(std::move(lane));
  }

  lease take() {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [this] { return !free_.empty(); });
    Lane* lane = free_.back();
    free_.pop_back();
    return lease(*this, *lane);
  }

  std::size_t size() const noexcept { return all_.size(); }
  // Every lane, in use or not (for the destructor's final synchronisation; not concurrent with take()).
  const std::vector<std::unique_ptr<Lane>>& all() const noexcept { return all_; }

 private:
  void give_back(Lane& lane) {
    {
      std::lock_guard lock(mutex_);
      free_.push_back(&lane);
    }
    freed_.notify_one();
  }

  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<Lane*> free_;
  std::vector<std::unique_ptr<Lane>> all_;
};

// Sets what one dense layer's matmul needs beyond its types: the TN transposes of the layout trick (gemm_plan.hpp),
// the epilogue for its activation, and the device bias vector the epilogue adds.
inline void configure_layer_matmul(cuda::matmul_desc& desc, const compute::mlp_layer_weights& layer,
                                   const void* device_bias) {
  const cuda::gemm_shape shape = cuda::dense_layer_gemm(1, layer.in_features, layer.out_features);
  desc.set_attribute(CUBLASLT_MATMUL_DESC_TRANSA, static_cast<std::int32_t>(shape.transa));
  desc.set_attribute(CUBLASLT_MATMUL_DESC_TRANSB, static_cast<std::int32_t>(shape.transb));
  desc.set_attribute(CUBLASLT_MATMUL_DESC_EPILOGUE,
                     static_cast<std::uint32_t>(cuda::epilogue_for(layer.activation).epilogue));
  desc.set_attribute(CUBLASLT_MATMUL_DESC_BIAS_POINTER, device_bias);
}

// A layer's weights and bias on the device, its matmul descriptor (epilogue, bias pointer) and A's layout.
struct device_layer {
  std::size_t inputs;
  std::size_t outputs;
  cuda::device_buffer weights;
  cuda::device_buffer bias;
  cuda::matmul_desc desc;
  cuda::matrix_layout a;

  device_layer(const compute::mlp_layer_weights& layer, const cuda_mlp_config& config)
      : inputs(layer.in_features),
        outputs(layer.out_features),
        weights(layer.weights.size() * cuda::element_bytes(config.precision)),
        bias(layer.out_features * cuda::element_bytes(config.precision)),
        desc(cuda::compute_type(config.precision, config.allow_tf32), cuda::scale_type),
        a(cuda::data_type(config.precision), cuda::dense_layer_gemm(1, layer.in_features, layer.out_features).a) {
    upload(weights, layer.weights, config.precision);
    const std::vector<float> zero_bias(layer.bias.empty() ? layer.out_features : 0, 0.0f);
    upload(bias, layer.bias.empty() ? zero_bias : layer.bias, config.precision);

    configure_layer_matmul(desc, layer, bias.data());
  }

  static void upload(cuda::device_buffer& to, const std::vector<float>& values, cuda::precision p) {
    std::vector<std::byte> converted(values.size() * cuda::element_bytes(p));
    to_device_format(p, values.data(), values.size(), converted.data());
    to.upload(converted.data(), converted.size());
  }
};

// cuBLASLt's choice for each layer at one batch size, with the B (input) and D (output) layouts it was made for.
struct batch_plan {
  struct step {
    cuda::matrix_layout b;
    cuda::matrix_layout d;
    cublasLtMatmulAlgo_t algorithm;
  };
  std::vector<step> steps;
};

// What one in-flight batch owns: its stream, completion event, cuBLASLt handle, ping-pong activation buffers (each
// as wide as the widest layer at max_batch_size rows), workspace, and host scratch for scaling.
struct lane {
  cuda::stream stream;
  cuda::event done;
  cuda::cublaslt_handle handle;
  std::array<cuda::device_buffer, 2> activations;
  cuda::device_buffer workspace;
  std::vector<float> scaled_row;  // one feature-scaled input row on its way to fp16 / bf16

  lane(std::size_t activation_bytes, std::size_t workspace_bytes)
      : activations{cuda::device_buffer(activation_bytes), cuda::device_buffer(activation_bytes)},
        workspace(workspace_bytes) {}
};

}  // namespace cuda_mlp_detail

class cuda_mlp {
 public:
  using element_type = float;
  using config_type = cuda_mlp_config;

  // Throws std::invalid_argument for a malformed model or config (before any CUDA call), cuda::error when the
  // GPU cannot be used or set up.
  explicit cuda_mlp(cuda_mlp_model model, cuda_mlp_config config = {}) {
    cuda_mlp_detail::validate(model, config);
    // Everything is created on config.device; the caller's current device is restored afterwards.
    cuda::device_guard on_device(state::usable_device(config.device));
    state_ = std::make_unique<state>(std::move(model), config);
  }

  // The model cpu_mlp runs (its float weights, scaling and softmax), on the GPU.
  explicit cuda_mlp(const compute::mlp_model& model, cuda_mlp_config config = {})
      : cuda_mlp(cuda_mlp_detail::from_cpu_model(model), config) {}

  // Loads a model folder (compute/model.hpp); file errors are compute::model_file_errors naming the file.
  static cuda_mlp load(const std::filesystem::path& folder, cuda_mlp_config config = {}) {
    return cuda_mlp(compute::load_mlp(folder), config);
  }

  cuda_mlp(cuda_mlp&&) noexcept = default;
  cuda_mlp& operator=(cuda_mlp&&) noexcept = default;

  // ---- tensor_backend ----
  std::span<const std::size_t> input_shape() const noexcept { return {&state_->input_size, 1}; }
  std::span<const std::size_t> output_shape() const noexcept { return {&state_->output_size, 1}; }
  std::size_t max_batch_size() const noexcept { return state_->config.max_batch_size; }

  // in: [n, input_size()], out: [n, output_size()]; throws std::invalid_argument if the views do not fit.
  void run(tensor_view<const float> in, tensor_view<float> out) {
    const std::size_t rows = cuda_mlp_detail::rows_of(in.shape()[0], in.shape()[1], out.shape()[0], out.shape()[1],
                                                      input_size(), output_size());
    forward(in.data(), rows, out.data());
  }

  // Picks cuBLASLt's algorithm for every batch size up to max_batch_size() and runs each once, so that the first
  // requests pay for neither the heuristic nor CUDA's lazy kernel loading, and stocks the staging pool with
  // max_in_flight buffers of every row bucket, so that concurrent batches allocate no pinned memory afterwards.
  void warm_up() {
    const std::size_t rows = max_batch_size();
    std::vector<float> zeros(rows * input_size(), 0.0f);
    std::vector<float> discard(rows * output_size());
    for (std::size_t n = 1; n <= rows; ++n) forward(zeros.data(), n, discard.data());
    state_->stock_staging();
  }

  // ---- the rest ----
  // y[batch][output_size()] = network(x[batch][input_size()]), any batch size. Blocks until y is written.
  void forward(const float* x, std::size_t batch, float* y) {
    POWERBATCH_ASSERT(state_ != nullptr, "cuda_mlp used after being moved from");
    if (batch == 0) return;
    state_->forward(x, batch, y);
  }

  std::size_t input_size() const noexcept { return state_->input_size; }
  std::size_t output_size() const noexcept { return state_->output_size; }
  const cuda_mlp_config& config() const noexcept { return state_->config; }
  // Pinned staging memory: hits, misses (each a cudaHostAlloc), bytes held.
  compute::pool_stats staging_stats() const { return state_->staging.stats(); }

 private:
  struct state {
    cuda_mlp_config config;
    std::optional<compute::feature_scaling> scaling;
    bool softmax_output;
    std::size_t input_size;
    std::size_t output_size;
    std::vector<cuda_mlp_detail::device_layer> layers;
    cuda_mlp_detail::lane_set<cuda_mlp_detail::lane> lanes;
    cuda::matmul_preference preference;
    cuda::cublaslt_handle planner;  // used for heuristics only, under plans_mutex
    compute::Pool<cuda::pinned_allocator> staging;

    std::mutex plans_mutex;
    std::vector<std::unique_ptr<const cuda_mlp_detail::batch_plan>> plans;  // by row count

    state(cuda_mlp_model model, const cuda_mlp_config& cfg)
        : config(cfg),
          scaling(std::move(model.scaling)),
          softmax_output(model.softmax_output),
          input_size(model.layers.front().in_features),
          output_size(model.layers.back().out_features),
          preference(cfg.workspace_bytes),
          staging(compute::pool_limits{.max_bytes = staging_limit(model, cfg)}),
          plans(cfg.max_batch_size + 1) {
      std::size_t widest = input_size;
      layers.reserve(model.layers.size());
      for (const compute::mlp_layer_weights& layer : model.layers) {
        layers.emplace_back(layer, config);
        widest = std::max(widest, layer.out_features);
      }
      const std::size_t activation_bytes = widest * config.max_batch_size * cuda::element_bytes(config.precision);
      for (std::size_t i = 0; i < config.max_in_flight; ++i) {
        auto lane = std::make_unique<cuda_mlp_detail::lane>(activation_bytes, config.workspace_bytes);
        lane->scaled_row.resize(scaling ? input_size : 0);
        lanes.add(std::move(lane));
      }
    }

    state(const state&) = delete;
    state& operator=(const state&) = delete;

    ~state() {
      // Nothing may still be in flight when buffers go away. forward() waits for its batch, so this only matters
      // after a failed one, whose error has already been reported.
      for (const auto& l : lanes.all()) (void)cudaStreamSynchronize(l->stream.get());
    }

    // Checks the device exists, so that "no GPU" is one clear error rather than whichever call fails first.
    static int usable_device(int device) {
      const outcome<int> count = cuda::device_count();
      if (count.error) throw cuda::error(count.error, "cuda_mlp: no usable GPU");
      if (device >= count.value)
        throw cuda::error(cuda::make_error_code(cudaErrorInvalidDevice),
                          "cuda_mlp: config.device is " + std::to_string(device) + " but " +
                              std::to_string(count.value) + " GPU(s) are visible");
      return device;
    }

    // Room for every lane's input and output staging at max_batch_size rows, twice over so that buffers of the
    // smaller row buckets stay shelved while full batches run.
    static std::size_t staging_limit(const cuda_mlp_model& model, const cuda_mlp_config& cfg) {
      const std::size_t row_bytes = (model.layers.front().in_features + model.layers.back().out_features) *
                                    cuda::element_bytes(cfg.precision);
      return 2 * cfg.max_in_flight * cfg.max_batch_size * row_bytes;
    }

    const cuda_mlp_detail::batch_plan& plan_for(std::size_t rows) {
      std::lock_guard lock(plans_mutex);
      auto& slot = plans[rows];
      if (!slot) {
        auto plan = std::make_unique<cuda_mlp_detail::batch_plan>();
        const cudaDataType_t type = cuda::data_type(config.precision);
        for (const auto& layer : layers) {
          const cuda::gemm_shape shape = cuda::dense_layer_gemm(rows, layer.inputs, layer.outputs);
          cuda::matrix_layout b(type, shape.b);
          cuda::matrix_layout d(type, shape.d);
          const cublasLtMatmulHeuristicResult_t best =
              cuda::best_algorithm(planner, layer.desc, layer.a, b, d, preference, shape, config.precision);
          plan->steps.push_back({std::move(b), std::move(d), best.algo});
        }
        slot = std::move(plan);
      }
      return *slot;
    }

    // The runs above hold one buffer per bucket at a time; batches on several lanes at once need one each. Held a
    // bucket at a time, so within staging_limit whatever max_batch_size is.
    void stock_staging() {
      const std::size_t element = cuda::element_bytes(config.precision);
      for (std::size_t bucket = 1;; bucket = std::min(2 * bucket, config.max_batch_size)) {
        std::vector<compute::Pool<cuda::pinned_allocator>::lease<std::byte>> held;
        for (std::size_t k = 0; k < config.max_in_flight; ++k) {
          held.push_back(staging.acquire<std::byte>({bucket, input_size * element}));
          held.push_back(staging.acquire<std::byte>({bucket, output_size * element}));
        }
        if (bucket == config.max_batch_size) break;
      }
    }

    void forward(const float* x, std::size_t batch, float* y) {
      const auto lane = lanes.take();
      cuda::device_guard on_device(config.device);
      for (std::size_t first = 0; first < batch; first += config.max_batch_size) {
        const std::size_t rows = std::min(config.max_batch_size, batch - first);
        run_rows(*lane, x + first * input_size, rows, y + first * output_size);
      }
    }

    void run_rows(cuda_mlp_detail::lane& l, const float* x, std::size_t rows, float* y) {
      const cuda_mlp_detail::batch_plan& plan = plan_for(rows);
      const std::size_t element = cuda::element_bytes(config.precision);
      const std::size_t bucket = cuda_mlp_detail::staging_rows(rows, config.max_batch_size);
      auto staged_in = staging.acquire<std::byte>({bucket, input_size * element});
      auto staged_out = staging.acquire<std::byte>({bucket, output_size * element});
      // If anything below throws, the GPU may still be reading or writing the staging buffers: wait for the
      // stream before they go back to the pool.
      struct drain_on_error {
        cudaStream_t stream;
        bool finished = false;
        ~drain_on_error() {
          if (!finished) (void)cudaStreamSynchronize(stream);
        }
      } drain{l.stream.get()};

      cuda_mlp_detail::stage_inputs(config.precision, scaling ? &*scaling : nullptr, x, rows, input_size, l.scaled_row,
                                    staged_in.data());
      POWERBATCH_CUDA_CHECK(cudaMemcpyAsync(l.activations[0].data(), staged_in.data(), rows * input_size * element,
                                            cudaMemcpyHostToDevice, l.stream.get()));
      const float alpha = 1.0f;
      const float beta = 0.0f;
      void* from = l.activations[0].data();
      void* to = l.activations[1].data();
      for (std::size_t i = 0; i < layers.size(); ++i) {
        const auto& layer = layers[i];
        const auto& step = plan.steps[i];
        POWERBATCH_CUDA_CHECK(cublasLtMatmul(l.handle.get(), layer.desc.get(), &alpha, layer.weights.data(),
                                             layer.a.get(), from, step.b.get(), &beta, to, step.d.get(), to,
                                             step.d.get(), &step.algorithm, l.workspace.data(), l.workspace.bytes(),
                                             l.stream.get()));
        std::swap(from, to);
      }
      POWERBATCH_CUDA_CHECK(cudaMemcpyAsync(staged_out.data(), from, rows * output_size * element,
                                            cudaMemcpyDeviceToHost, l.stream.get()));
      l.done.record(l.stream);
      l.done.synchronize();
      drain.finished = true;

      cuda_mlp_detail::finish_outputs(config.precision, staged_out.data(), rows, output_size, softmax_output, y);
    }
  };

  std::unique_ptr<state> state_;
};

}  // namespace backend
POWERBATCH_END_NAMESPACE
