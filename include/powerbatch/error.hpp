// powerbatch error codes: every request completes with one of these or with success.
#pragma once

#include <powerbatch/config.hpp>

#include <string>
#include <system_error>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE

enum class errc {
  queue_full = 1,     // admitted requests reached queue_capacity; nothing was queued
  deadline_expired,   // the request's deadline passed before it could run; it never reached the backend
  cancelled,          // cancelled through its Asio cancellation slot before it was dispatched
  backend_failed,     // the backend threw while running this request's batch
  shutting_down,      // the batcher is shutting down and will not run this request
  would_deadlock,     // a blocking call was made from a thread that must run the batcher itself
  invalid_argument,   // the request or its options are malformed
  pool_exhausted,     // a buffer pool would pass its byte limit; nothing was allocated
};

class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "powerbatch"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::queue_full: return "queue full: too many requests are waiting";
      case errc::deadline_expired: return "deadline expired before the request could run";
      case errc::cancelled: return "request cancelled before dispatch";
      case errc::backend_failed: return "backend failed while running the batch";
      case errc::shutting_down: return "batcher is shutting down";
      case errc::would_deadlock: return "blocking call from a thread that runs the batcher would deadlock";
      case errc::invalid_argument: return "invalid argument";
      case errc::pool_exhausted: return "buffer pool exhausted: the batch would pass the pool's byte limit";
    }
    return "unknown powerbatch error";
  }
};

inline const std::error_category& error_category() noexcept {
  static const error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// The result of a blocking call: seed 003's (ok, predictions, metadata) in C++ terms.
// `detail` keeps what the error code cannot, such as the message of the backend's exception.
template <class T>
struct outcome {
  std::error_code error;
  T value{};
  std::string detail;

  bool ok() const noexcept { return !error; }
  explicit operator bool() const noexcept { return ok(); }

  // Throws std::system_error (carrying `detail` in what()) when the call failed.
  T& get() & {
    throw_if_failed();
    return value;
  }
  T&& get() && {
    throw_if_failed();
    return std::move(value);
  }

 private:
  void throw_if_failed() const {
    if (error) throw std::system_error(error, detail);
  }
};

POWERBATCH_END_NAMESPACE

template <>
struct std::is_error_code_enum<powerbatch::errc> : std::true_type {};
