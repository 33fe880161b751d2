// power::wake_locked<Backend, Lock> — a backend decorator that holds a wake lock while, and only while, a batch runs
// (seed 000: "acquire wake lock before batch processing ... don't forget to release wake locks").
//
//   auto backend = power::wake_locked(my_model);                              // the platform's lock
//   auto lock = std::make_shared<power::counting_wake_lock>();
//   auto counted = power::wake_locked<my_backend, power::counting_wake_lock>(my_model, lock);   // tests
//
// The lock is released on every path out of run(), a throwing backend included (scoped_wake_lock). It lives in
// shared storage because the batcher moves its backend and OS locks cannot be moved; the caller may keep the
// pointer to inspect it. Locks nest (power/wake_lock.hpp), so batches running at once share one OS lock.
#pragma once

#include <powerbatch/concepts/backend.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/power/wake_lock.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

template <batch_backend Backend, wake_lock Lock = platform_wake_lock>
class wake_locked {
 public:
  using input_type = typename Backend::input_type;
  using output_type = typename Backend::output_type;
  using backend_type = Backend;
  using lock_type = Lock;

  explicit wake_locked(Backend backend, std::shared_ptr<Lock> lock = std::make_shared<Lock>())
      : backend_(std::move(backend)), lock_(std::move(lock)) {
    POWERBATCH_ASSERT(lock_ != nullptr, "power::wake_locked: the wake lock pointer is null");
  }

  void run(std::span<input_type> inputs, std::span<output_type> outputs) {
    scoped_wake_lock<Lock> held(*lock_);
    backend_.run(inputs, outputs);
  }

  std::size_t max_batch_size() const
    requires has_max_batch_size<Backend>
  {
    return static_cast<std::size_t>(backend_.max_batch_size());
  }

  Backend& backend() noexcept { return backend_; }
  const Backend& backend() const noexcept { return backend_; }
  Lock& lock() const noexcept { return *lock_; }
  const std::shared_ptr<Lock>& shared_lock() const noexcept { return lock_; }

 private:
  Backend backend_;
  std::shared_ptr<Lock> lock_;
};

template <batch_backend Backend>
wake_locked(Backend) -> wake_locked<Backend, platform_wake_lock>;

}  // namespace power
POWERBATCH_END_NAMESPACE
