// power::wake_lock — keeps the machine from sleeping while a batch runs, and only then.
//
//   no_wake_lock           does nothing (servers; platforms without an API)
//   counting_wake_lock     test double: acquisitions, releases, currently_held
//   callback_wake_lock     calls the application's acquire/release (Android: the NDK has no wake-lock API, so the
//                          app passes callbacks that reach PowerManager.WakeLock through JNI)
//   logind_inhibitor       Linux, systemd-logind over sd-bus (platform/logind_inhibitor.hpp)
//   iokit_assertion        macOS IOPMAssertion (platform/iokit_assertion.hpp)
//   windows_power_request  Windows power request (platform/windows_power_request.hpp)
//   platform_wake_lock     the OS lock of the target, or no_wake_lock where there is none to take without help:
//                          Linux only with -DPOWERBATCH_USE_LOGIND=1 (and -lsystemd); Android: use callback_wake_lock.
//   scoped_wake_lock<L>    RAII: acquires in its constructor, releases in its destructor, exceptions included.
//
// Contract of a wake lock: acquire() and release() throw nothing (failures are counted and kept by the lock), may be
// called from any thread, and nest: the OS lock is taken by the first acquire and dropped by the last release, so
// concurrent batches share one lock.
#pragma once

#include <powerbatch/power/platform/iokit_assertion.hpp>
#include <powerbatch/power/platform/logind_inhibitor.hpp>
#include <powerbatch/power/platform/wake_lock_state.hpp>
#include <powerbatch/power/platform/windows_power_request.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <system_error>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

template <class L>
concept wake_lock = requires(L& l) {
  l.acquire();
  l.release();
};

class no_wake_lock {
 public:
  void acquire() noexcept {}
  void release() noexcept {}
};

// Test double. Counts calls (not nesting depth changes): currently_held is acquisitions - releases.
class counting_wake_lock {
 public:
  void acquire() noexcept {
    acquisitions_.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t now = held_.fetch_add(1, std::memory_order_acq_rel) + 1;
    std::int64_t seen = max_held_.load(std::memory_order_relaxed);
    while (now > seen && !max_held_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
  }
  void release() noexcept {
    releases_.fetch_add(1, std::memory_order_relaxed);
    held_.fetch_sub(1, std::memory_order_acq_rel);
  }

  std::uint64_t acquisitions() const noexcept { return acquisitions_.load(std::memory_order_relaxed); }
  std::uint64_t releases() const noexcept { return releases_.load(std::memory_order_relaxed); }
  // Negative only if release() was called more often than acquire(): a bug in the caller.
  std::int64_t currently_held() const noexcept { return held_.load(std::memory_order_acquire); }
  std::int64_t max_held() const noexcept { return max_held_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> acquisitions_{0};
  std::atomic<std::uint64_t> releases_{0};
  std::atomic<std::int64_t> held_{0};
  std::atomic<std::int64_t> max_held_{0};
};

// The application supplies what taking and dropping the lock means. On Android, for example, two JNI calls into
// a PowerManager.WakeLock created with PARTIAL_WAKE_LOCK (and the WAKE_LOCK permission in the manifest).
// An exception from a callback is caught, counted and kept (its what()) — it never reaches the batch.
class callback_wake_lock {
 public:
  callback_wake_lock() = default;
  callback_wake_lock(std::function<void()> on_acquire, std::function<void()> on_release)
      : on_acquire_(std::move(on_acquire)), on_release_(std::move(on_release)) {}
  callback_wake_lock(const callback_wake_lock&) = delete;
  callback_wake_lock& operator=(const callback_wake_lock&) = delete;

  void acquire() noexcept { state_.acquire([this] { return call(on_acquire_, "acquire"); }); }
  void release() noexcept { state_.release([this] { call(on_release_, "release"); }); }

  bool held() const { return state_.held(); }
  std::uint64_t failures() const { return state_.failures(); }
  std::error_code last_error() const { return state_.last_error(); }
  std::string last_error_detail() const { return state_.last_error_detail(); }

 private:
  bool call(const std::function<void()>& callback, const char* which) noexcept {
    if (!callback) return true;
    try {
      callback();
      return true;
    } catch (const std::exception& e) {
      state_.fail(std::make_error_code(std::errc::io_error), std::string("wake lock ") + which +
                                                                 " callback threw: " + e.what());
    } catch (...) {
      state_.fail(std::make_error_code(std::errc::io_error),
                  std::string("wake lock ") + which + " callback threw a non-standard exception");
    }
    return false;
  }

  std::function<void()> on_acquire_;
  std::function<void()> on_release_;
  detail::wake_lock_state state_;
};

// Holds L for its lifetime. release() lets go early (e.g. before completing requests); the destructor then does
// nothing more.
template <wake_lock L>
class scoped_wake_lock {
 public:
  explicit scoped_wake_lock(L& lock) noexcept(noexcept(lock.acquire())) : lock_(&lock) { lock.acquire(); }
  scoped_wake_lock(scoped_wake_lock&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
  scoped_wake_lock(const scoped_wake_lock&) = delete;
  scoped_wake_lock& operator=(const scoped_wake_lock&) = delete;
  scoped_wake_lock& operator=(scoped_wake_lock&&) = delete;
  ~scoped_wake_lock() { release(); }

  void release() noexcept {
    if (lock_ != nullptr) std::exchange(lock_, nullptr)->release();
  }
  bool owns_lock() const noexcept { return lock_ != nullptr; }

 private:
  L* lock_;
};

#if defined(_WIN32)
using platform_wake_lock = windows_power_request;
#elif defined(POWERBATCH_HAS_IOKIT_ASSERTION)
using platform_wake_lock = iokit_assertion;
#elif defined(POWERBATCH_HAS_LOGIND_INHIBITOR) && defined(POWERBATCH_USE_LOGIND) && POWERBATCH_USE_LOGIND
using platform_wake_lock = logind_inhibitor;
#else
using platform_wake_lock = no_wake_lock;
#endif

static_assert(wake_lock<no_wake_lock>);
static_assert(wake_lock<counting_wake_lock>);
static_assert(wake_lock<callback_wake_lock>);
static_assert(wake_lock<platform_wake_lock>);

}  // namespace power
POWERBATCH_END_NAMESPACE
