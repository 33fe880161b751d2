// cuda::unique_handle — sole ownership of one C handle (a stream, an event, a cuBLASLt descriptor, device memory).
//
// Traits says what the handle is and how to let it go:
//   struct Traits { using handle_type = ...; static void destroy(handle_type) noexcept; };
// A default-constructed or moved-from unique_handle holds handle_type{} (null) and destroys nothing. Move-only,
// like std::unique_ptr; the CUDA wrappers in this folder build on it so that their move rules are tested once.
#pragma once

#include <powerbatch/config.hpp>

#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace cuda {

template <class Traits>
class unique_handle {
 public:
  using handle_type = typename Traits::handle_type;

  unique_handle() noexcept = default;
  explicit unique_handle(handle_type owned) noexcept : handle_(owned) {}
  unique_handle(unique_handle&& other) noexcept : handle_(std::exchange(other.handle_, handle_type{})) {}
  unique_handle& operator=(unique_handle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.handle_, handle_type{}));
    return *this;
  }
  unique_handle(const unique_handle&) = delete;
  unique_handle& operator=(const unique_handle&) = delete;
  ~unique_handle() { reset(); }

  handle_type get() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != handle_type{}; }

  // Gives up ownership without destroying.
  [[nodiscard]] handle_type release() noexcept { return std::exchange(handle_, handle_type{}); }

  // Destroys the handle held, if any, and owns `owned` instead.
  void reset(handle_type owned = handle_type{}) noexcept {
    const handle_type old = std::exchange(handle_, owned);
    if (old != handle_type{}) Traits::destroy(old);
  }

 private:
  handle_type handle_{};
};

}  // namespace cuda
POWERBATCH_END_NAMESPACE
