// backend::cpu_mlp — an MLP on the CPU's SIMD kernels (fp32; int8 with per-channel scales; weight-only int4 with
// per-group scales; bf16) as a tensor backend.
//
//   auto model = pb::backend::cpu_mlp::load("examples/models/digits", pb::backend::mlp_precision::int8,
//                                           {.max_batch_size = 128, .parallel = {pool.get_executor(), 2}});
//   model.warm_up();                                   // seed 002: one full batch before serving
//   auto report = model.validate(x_test, y_test, 0.95); // seed 003's validate_model: known inputs, checked outputs
//   pb::backend::tensor_batch<pb::backend::cpu_mlp> backend(std::move(model));   // for the Batcher
//
// Copies share the (immutable) model and the scratch pool, so the Batcher's copy and the caller's are one model.
// run() may be called from several threads at once (batches in flight): each call leases its own scratch. Large
// batches split across the threads of parallel_options' executor; small ones stay on the calling thread.
#pragma once

#include <powerbatch/compute/aligned_allocator.hpp>
#include <powerbatch/compute/mlp.hpp>
#include <powerbatch/compute/model.hpp>
#include <powerbatch/compute/pool.hpp>
#include <powerbatch/concepts/tensor_backend.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace backend {

// int4: weights only (compute/quantized_dense_int4.hpp), activations and sums stay fp32. bf16: weights and
// activations rounded to bf16, fp32 sums (compute/packed_dense_bf16.hpp); fast only with AVX512-BF16.
enum class mlp_precision : std::uint8_t { fp32, int8, int4, bf16 };

constexpr std::string_view to_string(mlp_precision p) noexcept {
  switch (p) {
    case mlp_precision::fp32: return "fp32";
    case mlp_precision::int8: return "int8";
    case mlp_precision::int4: return "int4";
    case mlp_precision::bf16: return "bf16";
  }
  return "unknown";
}

// What validate() found. `ok` is the verdict; `message` says why not (the first failing sample), or sums up.
struct validation_result {
  bool ok = false;
  std::size_t samples = 0;
  std::size_t failures = 0;    // samples misclassified (labels) or outside the tolerance (expected outputs)
  double accuracy = 0.0;       // (samples - failures) / samples
  double max_abs_error = 0.0;  // expected outputs only: the largest |output - expected|
  std::string message;
};

struct cpu_mlp_options {
  std::size_t max_batch_size = 256;      // the largest batch worth running (caps the Batcher's policies)
  compute::parallel_options parallel{};  // the executor and threads for large batches
  compute::pool_limits scratch_pool{};   // the byte limit on hidden-activation scratch
};

class cpu_mlp {
 public:
  using element_type = float;

  using options = cpu_mlp_options;

  explicit cpu_mlp(compute::mlp_model model, options opts = {})
      : cpu_mlp(std::make_shared<const compute::mlp_model>(std::move(model)), std::move(opts)) {}
  explicit cpu_mlp(compute::quantized_mlp model, options opts = {})
      : cpu_mlp(std::make_shared<const compute::quantized_mlp>(std::move(model)), std::move(opts)) {}
  explicit cpu_mlp(compute::quantized_int4_mlp model, options opts = {})
      : cpu_mlp(std::make_shared<const compute::quantized_int4_mlp>(std::move(model)), std::move(opts)) {}
  explicit cpu_mlp(compute::bf16_mlp model, options opts = {})
      : cpu_mlp(std::make_shared<const compute::bf16_mlp>(std::move(model)), std::move(opts)) {}

  // Loads a model folder (compute/model.hpp); int8, int4 and bf16 quantise it after loading (int4: the default group
  // size; construct from compute::quantize_int4(model, group_size) for another).
  static cpu_mlp load(const std::filesystem::path& folder, mlp_precision precision = mlp_precision::fp32,
                      options opts = {}) {
    compute::mlp_model model = compute::load_mlp(folder);
    if (precision == mlp_precision::int8) return cpu_mlp(compute::quantize_int8(model), std::move(opts));
    if (precision == mlp_precision::int4) return cpu_mlp(compute::quantize_int4(model), std::move(opts));
    if (precision == mlp_precision::bf16) return cpu_mlp(compute::quantize_bf16(model), std::move(opts));
    return cpu_mlp(std::move(model), std::move(opts));
  }

  // ---- tensor_backend ----
  std::span<const std::size_t> input_shape() const noexcept { return {&input_width_, 1}; }
  std::span<const std::size_t> output_shape() const noexcept { return {&output_width_, 1}; }
  std::size_t max_batch_size() const noexcept { return max_batch_; }

  void run(tensor_view<const float> in, tensor_view<float> out) {
    const std::size_t n = in.shape()[0];
    if (in.shape()[1] != input_width_ || out.shape()[1] != output_width_ || out.shape()[0] != n)
      throw std::invalid_argument("cpu_mlp: views are [" + std::to_string(n) + ", " + std::to_string(in.shape()[1]) +
                                  "] -> [" + std::to_string(out.shape()[0]) + ", " + std::to_string(out.shape()[1]) +
                                  "], the model maps [n, " + std::to_string(input_width_) + "] -> [n, " +
                                  std::to_string(output_width_) + "]");
    forward(in.data(), n, out.data());
  }

  // ---- the rest ----
  // The variant's alternatives are in mlp_precision's order.
  mlp_precision precision() const noexcept { return static_cast<mlp_precision>(model_.index()); }
  const compute::parallel_options& parallel() const noexcept { return parallel_; }
  compute::pool_stats scratch_stats() const { return scratch_->stats(); }
  // Bytes of packed weights.
  std::size_t weight_bytes() const noexcept {
    return std::visit([](const auto& m) { return m->bytes(); }, model_);
  }

  // x: [batch, input], y: [batch, output]; any batch size (split into max_batch_size() chunks).
  void forward(const float* x, std::size_t batch, float* y) const {
    for (std::size_t first = 0; first < batch; first += max_batch_) {
      const std::size_t n = std::min(max_batch_, batch - first);
      const float* xs = x + first * input_width_;
      float* ys = y + first * output_width_;
      std::visit(
          [&](const auto& m) {
            auto scratch = scratch_->acquire<float>({n, m->scratch_per_row()});
            m->forward(xs, n, ys, scratch.span(), parallel_);
          },
          model_);
    }
  }

  // Runs one full batch of zeros: fills the scratch pool and warms caches and code (seed 002's warm-up).
  void warm_up() {
    std::vector<float> x(max_batch_ * input_width_, 0.0f), y(max_batch_ * output_width_);
    forward(x.data(), max_batch_, y.data());
  }

  // Classifies `inputs` ([count, input] row-major) and compares the arg-max of each output row with `labels`:
  // ok when top-1 accuracy >= min_accuracy and every output is finite.
  validation_result validate(std::span<const float> inputs, std::span<const std::int64_t> labels,
                             double min_accuracy) const {
    validation_result result;
    const std::size_t count = checked_count(inputs, labels.size(), result);
    if (!result.message.empty()) return result;
    const std::vector<float> outputs = outputs_for(inputs, count);
    std::size_t first_wrong = count;
    for (std::size_t i = 0; i < count; ++i) {
      const float* row = outputs.data() + i * output_width_;
      if (!std::all_of(row, row + output_width_, [](float v) { return std::isfinite(v); })) {
        result.message = "sample " + std::to_string(i) + " gave a non-finite output";
        return result;
      }
      const auto predicted = static_cast<std::int64_t>(std::max_element(row, row + output_width_) - row);
      if (predicted != labels[i]) {
        ++result.failures;
        if (first_wrong == count) {
          first_wrong = i;
          result.message = "sample " + std::to_string(i) + " classified as " + std::to_string(predicted) +
                           ", label " + std::to_string(labels[i]);
        }
      }
    }
    result.samples = count;
    result.accuracy = count ? double(count - result.failures) / double(count) : 0.0;
    result.ok = count > 0 && result.accuracy >= min_accuracy;
    result.message = "top-1 accuracy " + std::to_string(result.accuracy) + " on " + std::to_string(count) +
                     " samples (required " + std::to_string(min_accuracy) + ")" +
                     (result.failures ? "; first miss: " + result.message : std::string());
    return result;
  }

  // Runs `inputs` and compares every output with `expected` ([count, output]): ok when all are within tolerance.
  validation_result validate(std::span<const float> inputs, std::span<const float> expected, float tolerance) const {
    validation_result result;
    if (expected.size() % output_width_ != 0) {
      result.message = "expected outputs hold " + std::to_string(expected.size()) +
                       " values, not a multiple of the output width " + std::to_string(output_width_);
      return result;
    }
    const std::size_t count = checked_count(inputs, expected.size() / output_width_, result);
    if (!result.message.empty()) return result;
    const std::vector<float> outputs = outputs_for(inputs, count);
    for (std::size_t i = 0; i < count; ++i) {
      bool sample_fails = false;
      for (std::size_t j = 0; j < output_width_; ++j) {
        const float got = outputs[i * output_width_ + j], want = expected[i * output_width_ + j];
        const double error = std::isfinite(got) ? std::fabs(double(got) - double(want)) : std::numeric_limits<double>::infinity();
        result.max_abs_error = std::max(result.max_abs_error, error);
        if (!(error <= tolerance)) {
          if (!sample_fails && result.failures == 0)
            result.message = "sample " + std::to_string(i) + " output " + std::to_string(j) + " is " +
                             std::to_string(got) + ", expected " + std::to_string(want) + " +- " +
                             std::to_string(tolerance);
          sample_fails = true;
        }
      }
      result.failures += sample_fails;
    }
    result.samples = count;
    result.accuracy = count ? double(count - result.failures) / double(count) : 0.0;
    result.ok = count > 0 && result.failures == 0;
    if (result.ok)
      result.message = std::to_string(count) + " samples within " + std::to_string(tolerance) +
                       " (max error " + std::to_string(result.max_abs_error) + ")";
    else
      result.message = std::to_string(result.failures) + " of " + std::to_string(count) +
                       " samples outside the tolerance; first: " + result.message;
    return result;
  }

 private:
  // One per mlp_precision, in its order (precision() is the index).
  using model_ptr =
      std::variant<std::shared_ptr<const compute::mlp_model>, std::shared_ptr<const compute::quantized_mlp>,
                   std::shared_ptr<const compute::quantized_int4_mlp>, std::shared_ptr<const compute::bf16_mlp>>;

  cpu_mlp(model_ptr model, options opts)
      : model_(std::move(model)),
        input_width_(std::visit([](const auto& m) { return m->input_size(); }, model_)),
        output_width_(std::visit([](const auto& m) { return m->output_size(); }, model_)),
        max_batch_(std::max<std::size_t>(1, opts.max_batch_size)),
        parallel_(std::move(opts.parallel)),
        scratch_(std::make_shared<compute::Pool<>>(opts.scratch_pool)) {}

  std::size_t checked_count(std::span<const float> inputs, std::size_t expected_count,
                            validation_result& result) const {
    if (inputs.size() % input_width_ != 0 || inputs.size() / input_width_ != expected_count) {
      result.message = "inputs hold " + std::to_string(inputs.size()) + " values; " +
                       std::to_string(expected_count) + " samples of " + std::to_string(input_width_) + " need " +
                       std::to_string(expected_count * input_width_);
      return 0;
    }
    if (expected_count == 0) result.message = "no samples to validate";
    return expected_count;
  }

  std::vector<float> outputs_for(std::span<const float> inputs, std::size_t count) const {
    std::vector<float> outputs(count * output_width_);
    forward(inputs.data(), count, outputs.data());
    return outputs;
  }

  model_ptr model_;
  std::size_t input_width_;   // the shapes are 1-D: [input_width_] -> [output_width_]
  std::size_t output_width_;
  std::size_t max_batch_;
  compute::parallel_options parallel_;
  std::shared_ptr<compute::Pool<>> scratch_;
};

static_assert(tensor_backend<cpu_mlp>);

}  // namespace backend
POWERBATCH_END_NAMESPACE
