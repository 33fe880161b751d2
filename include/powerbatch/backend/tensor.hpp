// backend::tensor_batch — runs a tensor backend (concepts/tensor_backend.hpp) under the Batcher; and
// backend::tensor_function — a plain callable `(const T* in, std::size_t batch, T* out)` as a tensor backend.
//
//   auto model = pb::backend::cpu_mlp::load("examples/models/digits");         // a tensor backend
//   pb::backend::tensor_batch<pb::backend::cpu_mlp> backend(std::move(model));  // a batch_backend
//   pb::default_batcher<decltype(backend)> batcher(io.get_executor(), backend, cfg);
//   batcher.async_submit(std::vector<float>(64, 0.0f), handler);                // one sample in, one row out
//
// tensor_batch::run gathers the batch's samples into one pooled, aligned [n, input width] buffer (applying the
// optional feature scaling in the same pass), runs the tensor backend over xtensor views of it, and copies each
// output row into its request's output: one copy in, one copy out, no other. Buffers come from a Pool<Alloc>
// shared by copies of the adapter, so concurrent batches each lease their own.
//
// A sample of the wrong length never reaches a batch: the Batcher calls accepts() at submission (concepts/backend.hpp)
// and completes such a request at once with errc::invalid_argument, so it cannot fail the good requests it would
// have been batched with. Called directly, run() refuses a wrong length with an exception naming the request's
// index, its length and the expected one.
#pragma once

#include <powerbatch/compute/aligned_allocator.hpp>
#include <powerbatch/compute/pool.hpp>
#include <powerbatch/compute/scaling.hpp>
#include <powerbatch/concepts/backend.hpp>
#include <powerbatch/concepts/tensor_backend.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace backend {

// The number of elements in one sample of this shape.
inline std::size_t sample_size(std::span<const std::size_t> shape) noexcept {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

template <compute::buffer_allocator Alloc = compute::aligned_allocator>
struct tensor_batch_options {
  compute::pool_limits pool{};                      // the batch buffers' byte limit (seed 002's max_memory_mb)
  std::optional<compute::feature_scaling> scaling{};  // standardise inputs while gathering (float backends only)
  Alloc allocator{};
};

template <class TB, compute::buffer_allocator Alloc = compute::aligned_allocator>
class tensor_batch {
  static_assert(diagnose_tensor_backend<TB>());

 public:
  using tensor_backend_type = TB;
  using element_type = typename TB::element_type;
  using input_type = std::vector<element_type>;   // one sample, flattened row-major
  using output_type = std::vector<element_type>;  // its output row
  using pool_type = compute::Pool<Alloc>;

  using options = tensor_batch_options<Alloc>;

  explicit tensor_batch(TB backend, options opts = {})
      : backend_(std::move(backend)),
        scaling_(std::move(opts.scaling)),
        pool_(std::make_shared<pool_type>(opts.pool, std::move(opts.allocator))),
        input_width_(sample_size(backend_.input_shape())),
        output_width_(sample_size(backend_.output_shape())),
        max_batch_(std::max<std::size_t>(1, backend_.max_batch_size())) {
    if (scaling_) {
      if constexpr (!std::is_same_v<element_type, float>)
        throw std::invalid_argument("tensor_batch: feature scaling needs a float tensor backend");
      if (scaling_->features() != input_width_)
        throw std::invalid_argument("tensor_batch: feature scaling has " + std::to_string(scaling_->features()) +
                                    " features, the backend's input has " + std::to_string(input_width_));
    }
  }

  // ---- batch_backend ----
  void run(std::span<input_type> inputs, std::span<output_type> outputs) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (!accepts(inputs[i]))
        throw std::invalid_argument("tensor_batch: request " + std::to_string(i) + " of this batch has " +
                                    std::to_string(inputs[i].size()) + " values, the backend takes " +
                                    std::to_string(input_width_) + " (sample shape " +
                                    compute::shape_to_string(backend_.input_shape()) + ")");
    // The Batcher never sends more than max_batch_size(); split anyway for other callers.
    for (std::size_t first = 0; first < inputs.size(); first += max_batch_) {
      const std::size_t n = std::min(max_batch_, inputs.size() - first);
      run_chunk(inputs.subspan(first, n), outputs.subspan(first, n));
    }
  }

  std::size_t max_batch_size() const noexcept { return max_batch_; }

  // ---- the rest ----
  bool accepts(const input_type& sample) const noexcept { return sample.size() == input_width_; }
  std::size_t input_width() const noexcept { return input_width_; }
  std::size_t output_width() const noexcept { return output_width_; }
  TB& tensor_backend() noexcept { return backend_; }
  const TB& tensor_backend() const noexcept { return backend_; }
  compute::pool_stats pool_stats() const { return pool_->stats(); }

  // Runs the tensor backend's warm_up() if it has one, then one full batch of zeros through this adapter, so that
  // the first real batch finds its buffers pooled and its code paths warm.
  void warm_up() {
    if constexpr (has_warm_up<TB>) backend_.warm_up();
    std::vector<input_type> inputs(max_batch_, input_type(input_width_, element_type{}));
    std::vector<output_type> outputs(max_batch_);
    run(inputs, outputs);
  }

 private:
  void run_chunk(std::span<input_type> inputs, std::span<output_type> outputs) {
    const std::size_t n = inputs.size();
    auto in = pool_->template acquire<element_type>({n, input_width_});
    auto out = pool_->template acquire<element_type>({n, output_width_});
    element_type* rows = in.data();
    for (std::size_t i = 0; i < n; ++i) {
      element_type* row = rows + i * input_width_;
      if constexpr (std::is_same_v<element_type, float>) {
        if (scaling_) {
          scaling_->apply(inputs[i].data(), 1, row);
          continue;
        }
      }
      std::copy(inputs[i].begin(), inputs[i].end(), row);
    }
    backend_.run(make_tensor_view<const element_type>(in.data(), n, input_width_),
                 make_tensor_view<element_type>(out.data(), n, output_width_));
    for (std::size_t i = 0; i < n; ++i) {
      const element_type* row = out.data() + i * output_width_;
      outputs[i].assign(row, row + output_width_);
    }
  }

  TB backend_;
  std::optional<compute::feature_scaling> scaling_;
  std::shared_ptr<pool_type> pool_;
  std::size_t input_width_;
  std::size_t output_width_;
  std::size_t max_batch_;
};

// A plain callable as a tensor backend (seed 002's custom operators): f(const T* in, std::size_t batch, T* out)
// reads batch rows of the input width and writes batch rows of the output width.
template <class T, class F>
class tensor_function {
  static_assert(std::is_invocable_v<F&, const T*, std::size_t, T*>,
                "tensor_function needs a callable void(const T* in, std::size_t batch, T* out)");

 public:
  using element_type = T;

  tensor_function(F f, std::vector<std::size_t> input_shape, std::vector<std::size_t> output_shape,
                  std::size_t max_batch = std::numeric_limits<std::size_t>::max())
      : f_(std::move(f)),
        input_shape_(std::move(input_shape)),
        output_shape_(std::move(output_shape)),
        max_batch_(std::max<std::size_t>(1, max_batch)) {}

  std::span<const std::size_t> input_shape() const noexcept { return input_shape_; }
  std::span<const std::size_t> output_shape() const noexcept { return output_shape_; }
  std::size_t max_batch_size() const noexcept { return max_batch_; }

  void run(tensor_view<const T> in, tensor_view<T> out) { f_(in.data(), in.shape()[0], out.data()); }

 private:
  F f_;
  std::vector<std::size_t> input_shape_;
  std::vector<std::size_t> output_shape_;
  std::size_t max_batch_;
};

// tensor_from_function<float>(f, {64}, {10}, 256)
template <class T, class F>
tensor_function<T, std::decay_t<F>> tensor_from_function(F&& f, std::vector<std::size_t> input_shape,
                                                          std::vector<std::size_t> output_shape,
                                                          std::size_t max_batch = std::numeric_limits<std::size_t>::max()) {
  return tensor_function<T, std::decay_t<F>>(std::forward<F>(f), std::move(input_shape), std::move(output_shape),
                                             max_batch);
}

}  // namespace backend
POWERBATCH_END_NAMESPACE
