// The baseline powerbatch is measured against: a batcher of the common design (TensorFlow Serving's
// BasicBatchScheduler, Triton's dynamic batcher), written to be as fast as that design allows.
//
//   - one std::mutex around one FIFO of requests (input, arrival time, a move-only type-erased callback);
//   - one batching thread; producers notify the condition variable only when that thread waits *and* their
//     arrival can change its decision (the queue was empty, or it just reached max_batch_size);
//   - the batching thread waits until the oldest request's max_delay has passed (wait_until on steady_clock,
//     which is what wait_for does underneath) or until max_batch_size requests are queued;
//   - a whole batch leaves under one lock acquisition; the backend and the callbacks run outside the lock.
//
// Same semantics as powerbatch's timeout::size_or_delay: flush max_batch_size requests at once, or whatever is
// queued once the oldest has waited max_delay since its arrival.
//
// To make it a strong baseline, nothing allocates per request in steady state: the FIFO is a ring over a
// reserved vector (Storage = reference_ring, the default) that keeps its storage, callbacks up to
// small_callback_bytes live inline, and the batch buffers are reused. `reference_std_deque` is the literal
// std::deque variant (it allocates and frees a 512-byte block every few requests), kept for comparison.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace reference {

using clock = std::chrono::steady_clock;

inline constexpr std::size_t small_callback_bytes = 48;

// A move-only `void(Args...)` callable with small-buffer storage (what std::move_only_function would be with
// an SBO; C++20 has no move_only_function). Larger or throwing-move callables go to the heap.
template <class Signature>
class small_callback;

template <class R, class... Args>
class small_callback<R(Args...)> {
 public:
  small_callback() noexcept = default;

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, small_callback>>>
  small_callback(F&& f) {  // NOLINT(google-explicit-constructor): a callable converts, like std::function
    using T = std::decay_t<F>;
    if constexpr (fits<T>) {
      ::new (static_cast<void*>(buffer_)) T(std::forward<F>(f));
      ops_ = &inline_ops<T>;
    } else {
      *reinterpret_cast<T**>(buffer_) = new T(std::forward<F>(f));
      ops_ = &heap_ops<T>;
    }
  }

  small_callback(small_callback&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
    if (ops_) ops_->relocate(other.buffer_, buffer_);
  }
  small_callback& operator=(small_callback&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = std::exchange(other.ops_, nullptr);
      if (ops_) ops_->relocate(other.buffer_, buffer_);
    }
    return *this;
  }
  small_callback(const small_callback&) = delete;
  small_callback& operator=(const small_callback&) = delete;
  ~small_callback() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  R operator()(Args... args) { return ops_->invoke(buffer_, std::forward<Args>(args)...); }

  void reset() noexcept {
    if (ops_) std::exchange(ops_, nullptr)->destroy(buffer_);
  }

 private:
  struct ops_table {
    R (*invoke)(void*, Args&&...);
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void*) noexcept;
  };

  template <class T>
  static constexpr bool fits = sizeof(T) <= small_callback_bytes && alignof(T) <= alignof(std::max_align_t) &&
                               std::is_nothrow_move_constructible_v<T>;

  template <class T>
  static constexpr ops_table inline_ops{
      [](void* p, Args&&... args) -> R { return (*static_cast<T*>(p))(std::forward<Args>(args)...); },
      [](void* from, void* to) noexcept {
        ::new (to) T(std::move(*static_cast<T*>(from)));
        static_cast<T*>(from)->~T();
      },
      [](void* p) noexcept { static_cast<T*>(p)->~T(); }};

  template <class T>
  static constexpr ops_table heap_ops{
      [](void* p, Args&&... args) -> R { return (**static_cast<T**>(p))(std::forward<Args>(args)...); },
      [](void* from, void* to) noexcept { *static_cast<T**>(to) = *static_cast<T**>(from); },
      [](void* p) noexcept { delete *static_cast<T**>(p); }};

  const ops_table* ops_ = nullptr;
  alignas(std::max_align_t) unsigned char buffer_[small_callback_bytes];
};

// FIFO storage: a ring over a vector that only grows (doubling), so the steady state allocates nothing.
template <class T>
class reference_ring {
 public:
  explicit reference_ring(std::size_t reserve) : slots_(std::max<std::size_t>(reserve, 16)) {}
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& front() noexcept { return slots_[head_]; }

  void push_back(T&& value) {
    if (size_ == slots_.size()) grow();
    std::size_t tail = head_ + size_;
    if (tail >= slots_.size()) tail -= slots_.size();
    slots_[tail] = std::move(value);
    ++size_;
  }

  // Moves the first n elements out through sink(T&) and removes them.
  template <class Sink>
  void pop_front_n(std::size_t n, Sink&& sink) {
    for (std::size_t i = 0; i < n; ++i) {
      sink(slots_[head_]);
      if (++head_ == slots_.size()) head_ = 0;
    }
    size_ -= n;
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) {
      std::size_t at = head_ + i;
      if (at >= slots_.size()) at -= slots_.size();
      bigger[i] = std::move(slots_[at]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// The literal std::deque (libstdc++ allocates a 512-byte node as push_back crosses into it and frees it as
// pop_front leaves it).
template <class T>
class reference_std_deque {
 public:
  explicit reference_std_deque(std::size_t) {}
  std::size_t size() const noexcept { return deque_.size(); }
  bool empty() const noexcept { return deque_.empty(); }
  T& front() noexcept { return deque_.front(); }
  void push_back(T&& value) { deque_.push_back(std::move(value)); }
  template <class Sink>
  void pop_front_n(std::size_t n, Sink&& sink) {
    for (std::size_t i = 0; i < n; ++i) {
      sink(deque_.front());
      deque_.pop_front();
    }
  }

 private:
  std::deque<T> deque_;
};

struct reference_params {
  std::size_t max_batch_size = 32;
  clock::duration max_delay = std::chrono::milliseconds(1);
  std::size_t reserve = 4096;  // initial FIFO capacity (requests)
};

// Backend: callable as backend(std::span<Input>, std::span<Output>).
template <class Input, class Output, class Backend, template <class> class Storage = reference_ring>
class mutex_condvar_batcher {
 public:
  using callback_type = small_callback<void(std::error_code, Output)>;

  explicit mutex_condvar_batcher(Backend backend, reference_params params = {})
      : backend_(std::move(backend)), params_(params), queue_(params.reserve) {
    params_.max_batch_size = std::max<std::size_t>(1, params_.max_batch_size);
    inputs_.reserve(params_.max_batch_size);
    outputs_.reserve(params_.max_batch_size);
    callbacks_.reserve(params_.max_batch_size);
    thread_ = std::thread([this] { batching_loop(); });
  }

  mutex_condvar_batcher(const mutex_condvar_batcher&) = delete;
  mutex_condvar_batcher& operator=(const mutex_condvar_batcher&) = delete;

  // Runs what is queued, then stops the batching thread.
  ~mutex_condvar_batcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }

  template <class Callback>
  void submit(Input input, Callback&& callback) {
    request r{std::move(input), callback_type(std::forward<Callback>(callback)), clock::now()};
    bool notify;
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(r));
      const std::size_t size = queue_.size();
      // Only an arrival that changes the batching thread's decision wakes it: the first request (it waits
      // without a deadline) or the one that fills a batch (it waits for the oldest request's delay).
      notify = waiting_ && (size == 1 || size == params_.max_batch_size);
    }
    if (notify) ready_.notify_one();
  }

  // Statistics for the benchmark: returns from a condition-variable wait, and batches run.
  std::size_t waits() const noexcept { return waits_.load(std::memory_order_relaxed); }
  std::size_t batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

 private:
  struct request {
    Input input{};
    callback_type callback;
    clock::time_point arrival{};
  };

  void batching_loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (queue_.empty()) {
        if (stopping_) return;
        waiting_ = true;
        ready_.wait(lock, [this] { return !queue_.empty() || stopping_; });
        waiting_ = false;
        bump(waits_);
        continue;
      }
      if (queue_.size() < params_.max_batch_size && !stopping_) {
        const clock::time_point flush_at = queue_.front().arrival + params_.max_delay;
        if (clock::now() < flush_at) {
          waiting_ = true;
          ready_.wait_until(lock, flush_at,
                            [this] { return queue_.size() >= params_.max_batch_size || stopping_; });
          waiting_ = false;
          bump(waits_);
        }
      }
      // One lock acquisition takes the whole batch.
      const std::size_t n = std::min(queue_.size(), params_.max_batch_size);
      queue_.pop_front_n(n, [this](request& r) {
        inputs_.push_back(std::move(r.input));
        callbacks_.push_back(std::move(r.callback));
      });
      lock.unlock();
      run_batch();
      lock.lock();
    }
  }

  // Written by the batching thread only: a plain load and store, no read-modify-write.
  static void bump(std::atomic<std::size_t>& counter) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  void run_batch() {
    const std::size_t n = inputs_.size();
    bump(batches_);
    outputs_.resize(n);
    std::error_code error;
    try {
      backend_(std::span<Input>(inputs_), std::span<Output>(outputs_));
    } catch (...) {
      error = std::make_error_code(std::errc::io_error);
    }
    for (std::size_t i = 0; i < n; ++i) callbacks_[i](error, error ? Output{} : std::move(outputs_[i]));
    inputs_.clear();
    outputs_.clear();
    callbacks_.clear();
  }

  Backend backend_;
  reference_params params_;

  std::mutex mutex_;
  std::condition_variable ready_;
  Storage<request> queue_;  // guarded by mutex_
  bool waiting_ = false;    // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_

  // Batching thread only.
  std::vector<Input> inputs_;
  std::vector<Output> outputs_;
  std::vector<callback_type> callbacks_;
  std::atomic<std::size_t> waits_{0};
  std::atomic<std::size_t> batches_{0};

  std::thread thread_;
};

// The same design with TensorFlow's batch-forming (BasicBatchScheduler / SharedBatchScheduler): producers append
// to the open batch under the mutex and close it when it is full; the batching thread takes a whole batch under the
// lock by swapping one pointer (O(1), however large the batch), or the open batch once its oldest request has
// waited max_delay. Batch buffers are recycled, so the steady state allocates nothing.
template <class Input, class Output, class Backend>
class batch_swap_batcher {
 public:
  using callback_type = small_callback<void(std::error_code, Output)>;

  explicit batch_swap_batcher(Backend backend, reference_params params = {})
      : backend_(std::move(backend)), params_(params), closed_(std::max<std::size_t>(16, params.reserve / 8)) {
    params_.max_batch_size = std::max<std::size_t>(1, params_.max_batch_size);
    const std::size_t pool = std::max<std::size_t>(4, params.reserve / params_.max_batch_size + 2);
    for (std::size_t i = 0; i < pool; ++i) free_.push_back(make_batch());
    outputs_.reserve(params_.max_batch_size);
    thread_ = std::thread([this] { batching_loop(); });
  }

  batch_swap_batcher(const batch_swap_batcher&) = delete;
  batch_swap_batcher& operator=(const batch_swap_batcher&) = delete;

  ~batch_swap_batcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }

  template <class Callback>
  void submit(Input input, Callback&& callback) {
    callback_type cb(std::forward<Callback>(callback));
    const clock::time_point now = clock::now();
    bool notify;
    {
      std::lock_guard lock(mutex_);
      if (!open_) {
        open_ = take_free();
        open_->oldest = now;
      }
      open_->inputs.push_back(std::move(input));
      open_->callbacks.push_back(std::move(cb));
      const std::size_t size = open_->inputs.size();
      const bool closes = size == params_.max_batch_size;
      if (closes) closed_.push_back(std::exchange(open_, nullptr));
      // Wake the batching thread only if it waits and this arrival changes its decision: a batch became ready,
      // or the first request arrived while nothing was pending.
      notify = waiting_ && (closes || (size == 1 && closed_.empty()));
    }
    if (notify) ready_.notify_one();
  }

  std::size_t waits() const noexcept { return waits_.load(std::memory_order_relaxed); }
  std::size_t batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

 private:
  struct batch {
    std::vector<Input> inputs;
    std::vector<callback_type> callbacks;
    clock::time_point oldest{};
  };

  std::unique_ptr<batch> make_batch() const {
    auto b = std::make_unique<batch>();
    b->inputs.reserve(params_.max_batch_size);
    b->callbacks.reserve(params_.max_batch_size);
    return b;
  }

  // Under the mutex.
  batch* take_free() {
    if (free_.empty()) free_.push_back(make_batch());  // only if the pool ran dry
    batch* b = free_.back().release();
    free_.pop_back();
    return b;
  }

  void batching_loop() {
    std::unique_lock lock(mutex_);
    batch* done = nullptr;
    for (;;) {
      if (done) {  // recycle the previous batch in the same lock acquisition
        free_.emplace_back(done);
        done = nullptr;
      }
      batch* next = nullptr;
      if (!closed_.empty()) {
        next = closed_.pop_front();
      } else if (open_) {
        const clock::time_point flush_at = open_->oldest + params_.max_delay;
        if (!stopping_ && clock::now() < flush_at) {
          waiting_ = true;
          ready_.wait_until(lock, flush_at, [this] { return !closed_.empty() || stopping_; });
          waiting_ = false;
          bump(waits_);
          continue;
        }
        next = std::exchange(open_, nullptr);
      } else {
        if (stopping_) return;
        waiting_ = true;
        ready_.wait(lock, [this] { return !closed_.empty() || open_ != nullptr || stopping_; });
        waiting_ = false;
        bump(waits_);
        continue;
      }
      lock.unlock();
      run_batch(*next);
      done = next;
      lock.lock();
    }
  }

  static void bump(std::atomic<std::size_t>& counter) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  void run_batch(batch& b) {
    const std::size_t n = b.inputs.size();
    bump(batches_);
    outputs_.resize(n);
    std::error_code error;
    try {
      backend_(std::span<Input>(b.inputs), std::span<Output>(outputs_));
    } catch (...) {
      error = std::make_error_code(std::errc::io_error);
    }
    for (std::size_t i = 0; i < n; ++i) b.callbacks[i](error, error ? Output{} : std::move(outputs_[i]));
    b.inputs.clear();
    b.callbacks.clear();
    outputs_.clear();
  }

  // A FIFO of closed batches: a ring of pointers (as std::deque<batch*>, without its node allocations).
  class batch_fifo {
   public:
    explicit batch_fifo(std::size_t capacity) : ring_(capacity, nullptr) {}
    bool empty() const noexcept { return size_ == 0; }
    void push_back(batch* b) {
      if (size_ == ring_.size()) grow();
      ring_[(head_ + size_) % ring_.size()] = b;
      ++size_;
    }
    batch* pop_front() noexcept {
      batch* b = ring_[head_];
      head_ = (head_ + 1) % ring_.size();
      --size_;
      return b;
    }
    ~batch_fifo() {
      while (!empty()) delete pop_front();
    }

   private:
    void grow() {
      std::vector<batch*> bigger(ring_.size() * 2, nullptr);
      for (std::size_t i = 0; i < size_; ++i) bigger[i] = ring_[(head_ + i) % ring_.size()];
      ring_ = std::move(bigger);
      head_ = 0;
    }
    std::vector<batch*> ring_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
  };

  Backend backend_;
  reference_params params_;

  std::mutex mutex_;
  std::condition_variable ready_;
  batch* open_ = nullptr;                     // guarded by mutex_
  batch_fifo closed_;                         // guarded by mutex_
  std::vector<std::unique_ptr<batch>> free_;  // guarded by mutex_
  bool waiting_ = false;                      // guarded by mutex_
  bool stopping_ = false;                     // guarded by mutex_

  std::vector<Output> outputs_;  // batching thread only
  std::atomic<std::size_t> waits_{0};
  std::atomic<std::size_t> batches_{0};

  std::thread thread_;
};

}  // namespace reference
