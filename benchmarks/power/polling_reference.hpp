// The reference for bench_power: a batcher that polls, as TensorFlow's batching does — one thread wakes every 1 ms,
// takes everything queued, runs it as one batch (up to max_batch_size) and completes the requests. Its latency is
// low and its code simple; its cost is a wake-up every millisecond whether or not anything arrived.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#endif

namespace pbbench {

// Voluntary context switches of the calling thread (Linux; 0 elsewhere): how the batcher counts its wake-ups too.
inline std::uint64_t voluntary_switches() {
#if defined(__linux__) && defined(RUSAGE_THREAD)
  rusage usage{};
  if (::getrusage(RUSAGE_THREAD, &usage) == 0) return static_cast<std::uint64_t>(usage.ru_nvcsw);
#endif
  return 0;
}

template <class Backend>
class polling_batcher {
 public:
  using input_type = typename Backend::input_type;
  using output_type = typename Backend::output_type;
  using handler = std::function<void(output_type)>;

  polling_batcher(Backend backend, std::chrono::microseconds period, std::size_t max_batch_size)
      : backend_(std::move(backend)), period_(period), max_batch_size_(max_batch_size) {
    thread_ = std::thread([this] { loop(); });
  }
  polling_batcher(const polling_batcher&) = delete;
  polling_batcher& operator=(const polling_batcher&) = delete;
  ~polling_batcher() { stop(); }

  void submit(input_type input, handler done) {
    std::lock_guard lock(mutex_);
    queued_inputs_.push_back(std::move(input));
    queued_handlers_.push_back(std::move(done));
  }

  // Runs what is still queued, then stops the thread.
  void stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true, std::memory_order_release);
    thread_.join();
  }

  std::uint64_t wakeups() const { return wakeups_; }  // valid after stop()
  std::uint64_t batches() const { return batches_; }
  std::chrono::nanoseconds busy() const { return busy_; }

 private:
  void loop() {
    const std::uint64_t before = voluntary_switches();
    std::vector<input_type> inputs;
    std::vector<handler> handlers;
    std::vector<output_type> outputs;
    for (auto next = std::chrono::steady_clock::now();;) {
      next += period_;
      std::this_thread::sleep_until(next);
      const bool last = stopping_.load(std::memory_order_acquire);
      {
        std::lock_guard lock(mutex_);
        inputs.swap(queued_inputs_);
        handlers.swap(queued_handlers_);
      }
      for (std::size_t first = 0; first < inputs.size(); first += max_batch_size_) {
        const std::size_t n = std::min(max_batch_size_, inputs.size() - first);
        outputs.assign(n, output_type{});
        const auto started = std::chrono::steady_clock::now();
        backend_.run(std::span<input_type>(inputs.data() + first, n), std::span<output_type>(outputs));
        busy_ += std::chrono::steady_clock::now() - started;
        ++batches_;
        for (std::size_t i = 0; i < n; ++i) handlers[first + i](std::move(outputs[i]));
      }
      inputs.clear();
      handlers.clear();
      if (last) break;
    }
    wakeups_ = voluntary_switches() - before;
  }

  Backend backend_;
  const std::chrono::microseconds period_;
  const std::size_t max_batch_size_;
  std::mutex mutex_;
  std::vector<input_type> queued_inputs_;
  std::vector<handler> queued_handlers_;
  std::atomic<bool> stopping_{false};
  std::uint64_t wakeups_ = 0, batches_ = 0;
  std::chrono::nanoseconds busy_{};
  std::thread thread_;
};

}  // namespace pbbench
