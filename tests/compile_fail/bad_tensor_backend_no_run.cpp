// A tensor backend that states its shapes and batch size but cannot run a batch: no run(tensor_view, tensor_view).
// Expected diagnostic: "Tensor backend must provide run(tensor_view<const element_type>, tensor_view<element_type>)"
#include <powerbatch/backend/tensor.hpp>

#include <array>
#include <cstddef>
#include <span>

struct tensor_backend_without_run {
  using element_type = float;
  std::span<const std::size_t> input_shape() const { return input; }
  std::span<const std::size_t> output_shape() const { return output; }
  std::size_t max_batch_size() const { return 16; }
  void predict(const float*, std::size_t, float*) {}
  std::array<std::size_t, 1> input{4}, output{2};
};

int main() {
  powerbatch::backend::tensor_batch<tensor_backend_without_run> backend{tensor_backend_without_run{}};
  (void)backend;
}
