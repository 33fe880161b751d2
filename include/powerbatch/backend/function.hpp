// backend::function — adapts a plain callable into a Backend (seed 002's custom operators).
//
// The callable may take the whole batch, `void(std::span<Input>, std::span<Output>)`, or one request at a time,
// `Output(Input&)`; the per-request form is called in a loop. An optional maximum batch size caps every policy.
#pragma once

#include <powerbatch/concepts/backend.hpp>

#include <concepts>
#include <cstddef>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace backend {

template <class Input, class Output, class F>
class function {
 public:
  using input_type = Input;
  using output_type = Output;

  static_assert(std::is_invocable_v<F&, std::span<Input>, std::span<Output>> ||
                    std::is_invocable_r_v<Output, F&, Input&>,
                "backend::function needs a callable void(std::span<Input>, std::span<Output>) or Output(Input&)");

  function() = default;
  explicit function(F f, std::size_t max_batch = std::numeric_limits<std::size_t>::max())
      : f_(std::move(f)), max_batch_(max_batch) {}

  void run(std::span<Input> inputs, std::span<Output> outputs) {
    if constexpr (std::is_invocable_v<F&, std::span<Input>, std::span<Output>>) {
      f_(inputs, outputs);
    } else {
      for (std::size_t i = 0; i < inputs.size(); ++i) outputs[i] = f_(inputs[i]);
    }
  }

  std::size_t max_batch_size() const noexcept { return max_batch_; }

 private:
  F f_{};
  std::size_t max_batch_ = std::numeric_limits<std::size_t>::max();
};

// Deduces the callable's type: backend::from_function<float, float>([](float& x) { return 2 * x; }).
template <class Input, class Output, class F>
function<Input, Output, std::decay_t<F>> from_function(F&& f,
                                                      std::size_t max_batch = std::numeric_limits<std::size_t>::max()) {
  return function<Input, Output, std::decay_t<F>>(std::forward<F>(f), max_batch);
}

}  // namespace backend
POWERBATCH_END_NAMESPACE
