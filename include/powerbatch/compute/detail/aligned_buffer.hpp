// compute::detail::aligned_buffer — a fixed-size, 64-byte aligned, zero-initialised array owned by a packed layer.
//
// Cache-line alignment keeps each packed panel on whole lines, so a panel stream never pays for a split load.
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

template <typename T>
class aligned_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "aligned_buffer holds trivially copyable elements only");
  static constexpr std::align_val_t alignment{64};

  struct deleter {
    void operator()(T* p) const noexcept { ::operator delete(static_cast<void*>(p), alignment); }
  };

 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t count)
      : data_(count == 0 ? nullptr : static_cast<T*>(::operator new(count * sizeof(T), alignment))), size_(count) {
    if (count != 0) std::memset(static_cast<void*>(data_.get()), 0, count * sizeof(T));
  }
  aligned_buffer(const aligned_buffer& other) : aligned_buffer(other.size_) {
    if (size_ != 0) std::memcpy(static_cast<void*>(data_.get()), other.data_.get(), size_ * sizeof(T));
  }
  aligned_buffer& operator=(const aligned_buffer& other) {
    if (this != &other) *this = aligned_buffer(other);
    return *this;
  }
  aligned_buffer(aligned_buffer&&) noexcept = default;
  aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data_.get()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_.get()[i]; }

 private:
  std::unique_ptr<T, deleter> data_;
  std::size_t size_ = 0;
};

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
