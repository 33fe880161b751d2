// power::detail::wake_lock_state — the bookkeeping every OS wake lock shares: a nesting depth (several batches may
// run at once; the OS lock is taken by the first acquire and dropped by the last release), whether the OS lock is
// held, and the last failure. acquire/release never throw: a failure is counted and kept for the caller to read.
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace power::detail {

class wake_lock_state {
 public:
  // Take(): bool, true when the OS lock is now held. Drop(): void. Both are called with the mutex held.
  template <class Take>
  void acquire(Take&& take) noexcept {
    std::lock_guard lock(mutex_);
    if (depth_++ == 0) held_ = take();
  }
  template <class Drop>
  void release(Drop&& drop) noexcept {
    std::lock_guard lock(mutex_);
    if (depth_ == 0) return;  // unbalanced release: ignore rather than drop someone else's lock
    if (--depth_ == 0 && held_) {
      drop();
      held_ = false;
    }
  }

  // Called by Take/Drop (mutex held) to report a failure.
  void fail(std::error_code error, std::string detail) noexcept {
    ++failures_;
    error_ = error;
    try {
      detail_ = std::move(detail);
    } catch (...) {  // out of memory while building a message: keep the code
    }
  }

  bool held() const {
    std::lock_guard lock(mutex_);
    return held_;
  }
  std::size_t depth() const {
    std::lock_guard lock(mutex_);
    return depth_;
  }
  std::uint64_t failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  std::error_code last_error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }
  std::string last_error_detail() const {
    std::lock_guard lock(mutex_);
    return detail_;
  }
  std::mutex& mutex() const noexcept { return mutex_; }

 private:
  mutable std::mutex mutex_;
  std::size_t depth_ = 0;
  bool held_ = false;
  std::uint64_t failures_ = 0;
  std::error_code error_;
  std::string detail_;
};

}  // namespace power::detail
POWERBATCH_END_NAMESPACE
