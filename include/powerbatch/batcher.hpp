// powerbatch::Batcher<Queue, Timeout, Priority, Backend, Clock, Observer> — where the policies meet.
//
//   Queue    (queue::)    where producers put requests           — concepts/queue_policy.hpp
//   Timeout  (timeout::)  when a batch leaves, and how large      — concepts/timeout_policy.hpp
//   Priority (priority::) which waiting requests leave first      — concepts/priority_policy.hpp
//   Backend               what runs a batch                      — concepts/backend.hpp
//   Clock                 where time comes from (manual_clock in tests and simulations)
//   Observer              what watches it (metrics::recorder; no_observer costs nothing) — concepts/observer.hpp
//
// It runs on the user's Asio executor and starts no thread. Every submitted request completes exactly once, with a
// result or an error code, on its handler's associated executor (or the batcher's executor if it has none).
//
// Lifetime: destroying the Batcher shuts it down in cancel mode and returns at once, like an Asio I/O object: the
// requests still waiting complete with errc::shutting_down through their executors, running batches finish, and
// the internal state lives until the last of its handlers has run. To wait for all of that, call shutdown() first.
#pragma once

#include <powerbatch/batcher_config.hpp>
#include <powerbatch/concepts/backend.hpp>
#include <powerbatch/concepts/observer.hpp>
#include <powerbatch/concepts/priority_policy.hpp>
#include <powerbatch/concepts/queue_policy.hpp>
#include <powerbatch/concepts/timeout_policy.hpp>
#include <powerbatch/detail/batcher_core.hpp>
#include <powerbatch/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE

namespace batcher_detail {

// A result slot a blocking caller waits on. The completing thread notifies under the lock, so the waiter cannot
// destroy the slot while notify_one() is still running.
template <class T>
struct blocking_slot {
  std::mutex mutex;
  std::condition_variable ready;
  bool done = false;
  outcome<T> result;

  struct handler {
    blocking_slot* slot;
    void accept_detail(std::string_view detail) const { slot->result.detail.assign(detail); }
    void operator()(std::error_code error, T value) const {
      std::lock_guard lock(slot->mutex);
      slot->result.error = error;
      slot->result.value = std::move(value);
      slot->done = true;
      slot->ready.notify_one();
    }
  };

  outcome<T> wait() {
    std::unique_lock lock(mutex);
    ready.wait(lock, [this] { return done; });
    return std::move(result);
  }
};

template <>
struct blocking_slot<void> {
  std::mutex mutex;
  std::condition_variable ready;
  bool done = false;

  struct handler {
    blocking_slot* slot;
    void operator()() const {
      std::lock_guard lock(slot->mutex);
      slot->done = true;
      slot->ready.notify_one();
    }
  };

  void wait() {
    std::unique_lock lock(mutex);
    ready.wait(lock, [this] { return done; });
  }
};

// Joins the requests of one submit_batch() call into one completion with all outputs, in input order.
// The first error wins (with its detail); outputs of requests that failed stay default-constructed.
template <class Output>
struct batch_join {
  explicit batch_join(std::size_t n) : outputs(n), remaining(n) {}

  std::vector<Output> outputs;
  std::atomic<std::size_t> remaining;
  std::mutex error_mutex;
  std::error_code first_error;
  std::string first_detail;
  detail::completion<std::vector<Output>> done;

  struct part_handler {
    std::shared_ptr<batch_join> join;
    std::size_t index;
    std::string_view detail;
    void accept_detail(std::string_view d) { detail = d; }
    void operator()(std::error_code error, Output value) {
      if (error) {
        std::lock_guard lock(join->error_mutex);
        if (!join->first_error) {
          join->first_error = error;
          join->first_detail.assign(detail);
        }
      } else {
        join->outputs[index] = std::move(value);
      }
      // The last part runs on the default executor (every part does), so the joined handler may run inline.
      if (join->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::error_code error_out;
        std::string detail_out;
        {
          std::lock_guard lock(join->error_mutex);
          error_out = join->first_error;
          detail_out = join->first_detail;
        }
        join->done.complete(error_out, std::move(join->outputs), detail_out, nullptr);
      }
    }
  };
};

}  // namespace batcher_detail

template <class Queue, class Timeout, class Priority, class Backend, class Clock = std::chrono::steady_clock,
          class Observer = no_observer>
class Batcher {
  static_assert(diagnose_queue_policy<Queue>());
  static_assert(diagnose_timeout_policy<Timeout>());
  static_assert(diagnose_priority_policy<Priority>());
  static_assert(diagnose_backend<Backend>());
  static_assert(batcher_clock<Clock>,
                "Clock must provide static now() returning std::chrono::steady_clock::time_point");
  static_assert(diagnose_observer<Observer>());

  using core_type = detail::batcher_core<Queue, Timeout, Priority, Backend, Clock, Observer>;

 public:
  using queue_policy = Queue;
  using timeout_policy = Timeout;
  using priority_policy = Priority;
  using backend_type = Backend;
  using clock_type = Clock;
  using observer_type = Observer;
  using input_type = typename Backend::input_type;
  using output_type = typename Backend::output_type;
  using executor_type = boost::asio::any_io_executor;
  using config = batcher_config<Timeout, Priority>;
  using completion_signature = void(std::error_code, output_type);
  using batch_completion_signature = void(std::error_code, std::vector<output_type>);

  // Dispatch, backend calls and completions all on `executor`.
  explicit Batcher(executor_type executor, Backend backend = Backend{}, config cfg = config{})
      : Batcher(executor, executor, std::move(backend), std::move(cfg)) {}

  // Dispatch on `dispatch_executor`, one handler at a time (also the default completion executor); backend calls on
  // `compute_executor` (a thread_pool, say), which may run several batches at once if max_in_flight > 1.
  Batcher(executor_type dispatch_executor, executor_type compute_executor, Backend backend, config cfg = config{})
      : core_(std::make_shared<core_type>(std::move(dispatch_executor), std::move(compute_executor),
                                          std::move(backend), std::move(cfg))) {}

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;
  Batcher(Batcher&&) noexcept = default;
  Batcher& operator=(Batcher&& other) noexcept {
    if (this != &other) {
      close();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  ~Batcher() { close(); }

  // Submits one request. Completion signature void(std::error_code, output_type); works with callbacks,
  // asio::use_future, asio::use_awaitable, asio::deferred and other completion tokens. Never completes inline.
  // Cancellation through the token's cancellation slot (terminal, partial or total) completes a request that has
  // not yet been dispatched with errc::cancelled; emit it from the handler's executor, as Asio requires.
  template <boost::asio::completion_token_for<completion_signature> CompletionToken>
  auto async_submit(input_type input, request_options options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, completion_signature>(initiate_submit{core_.get()}, token,
                                                                             std::move(input), options);
  }
  template <boost::asio::completion_token_for<completion_signature> CompletionToken>
  auto async_submit(input_type input, CompletionToken&& token) {
    return async_submit(std::move(input), request_options{}, std::forward<CompletionToken>(token));
  }

  // Submits a caller's whole batch (seed 002's batch_predict): admitted all or nothing, outputs in input order.
  // Completion signature void(std::error_code, std::vector<output_type>); the first error wins.
  template <boost::asio::completion_token_for<batch_completion_signature> CompletionToken>
  auto async_submit_batch(std::vector<input_type> inputs, request_options options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, batch_completion_signature>(
        initiate_submit_batch{core_.get()}, token, std::move(inputs), options);
  }
  template <boost::asio::completion_token_for<batch_completion_signature> CompletionToken>
  auto async_submit_batch(std::vector<input_type> inputs, CompletionToken&& token) {
    return async_submit_batch(std::move(inputs), request_options{}, std::forward<CompletionToken>(token));
  }

  // Blocking forms for synchronous callers (seed 003's predict / predict_batch). Called from a thread that runs
  // the batcher's executors they would wait forever, so they answer errc::would_deadlock instead.
  outcome<output_type> submit(input_type input, request_options options = {}) {
    if (core_->blocking_would_deadlock()) return deadlock_outcome<output_type>("submit");
    batcher_detail::blocking_slot<output_type> slot;
    core_->submit(std::move(input), options, typename batcher_detail::blocking_slot<output_type>::handler{&slot});
    return slot.wait();
  }

  outcome<std::vector<output_type>> submit_batch(std::vector<input_type> inputs, request_options options = {}) {
    if (core_->blocking_would_deadlock()) return deadlock_outcome<std::vector<output_type>>("submit_batch");
    batcher_detail::blocking_slot<std::vector<output_type>> slot;
    async_submit_batch(std::move(inputs), options,
                       typename batcher_detail::blocking_slot<std::vector<output_type>>::handler{&slot});
    return slot.wait();
  }

  // Stops admitting (new submissions complete with errc::shutting_down), then either runs everything waiting
  // (drain) or completes it with errc::shutting_down (cancel). Completes, signature void(), once every admitted
  // request has completed and no batch is running. Safe to call more than once; cancel overrides drain.
  template <boost::asio::completion_token_for<void()> CompletionToken>
  auto async_shutdown(shutdown_mode mode, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void()>(
        [core = core_](auto handler, shutdown_mode m) {
          core->begin_shutdown(m, boost::asio::any_completion_handler<void()>(std::move(handler)));
        },
        token, mode);
  }

  // Blocking shutdown. From a thread that runs the batcher's executors it can only begin the shutdown (waiting
  // would deadlock): it then returns errc::would_deadlock and the shutdown proceeds in the background.
  std::error_code shutdown(shutdown_mode mode = shutdown_mode::drain) {
    if (core_->blocking_would_deadlock()) {
      core_->begin_shutdown(mode);
      return errc::would_deadlock;
    }
    batcher_detail::blocking_slot<void> slot;
    async_shutdown(mode, batcher_detail::blocking_slot<void>::handler{&slot});
    slot.wait();
    return {};
  }

  batcher_stats stats() const noexcept { return core_->stats(); }
  // The message of the backend's most recent exception (empty if none yet).
  std::string last_backend_error() const { return core_->last_backend_error(); }
  const config& configuration() const noexcept { return core_->config(); }
  executor_type get_executor() const noexcept { return core_->default_executor(); }
  // The backend, for inspection; it may be running a batch on another thread.
  Backend& backend() noexcept { return core_->backend(); }
  // The observer the batcher reports to (metrics); its hooks may be running on other threads.
  Observer& observer() noexcept { return core_->observer(); }

 private:
  struct initiate_submit {
    core_type* core;
    using executor_type = boost::asio::any_io_executor;
    executor_type get_executor() const noexcept { return core->default_executor(); }
    template <class Handler>
    void operator()(Handler&& handler, input_type input, request_options options) const {
      core->submit(std::move(input), options, std::forward<Handler>(handler));
    }
  };

  struct initiate_submit_batch {
    core_type* core;
    using executor_type = boost::asio::any_io_executor;
    executor_type get_executor() const noexcept { return core->default_executor(); }
    template <class Handler>
    void operator()(Handler&& handler, std::vector<input_type> inputs, request_options options) const {
      using join_type = batcher_detail::batch_join<output_type>;
      if (inputs.empty()) {
        // Nothing to run: complete at once (posted, never inline) with no outputs.
        auto join = std::make_shared<join_type>(0);
        join->done.emplace(std::forward<Handler>(handler), nullptr, nullptr, nullptr);
        join->done.complete({}, {}, {}, &core->default_executor());
        return;
      }
      auto join = std::make_shared<join_type>(inputs.size());
      join->done.emplace(std::forward<Handler>(handler), nullptr, nullptr, nullptr);
      core->submit_many(
          std::move(inputs), options,
          [&join](std::size_t i) { return typename join_type::part_handler{join, i, {}}; },
          [this, &join](errc error, std::size_t n) {
            core->count_refusals(error, n);
            join->done.complete(error, {}, {}, &core->default_executor());
          });
    }
  };

  template <class T>
  static outcome<T> deadlock_outcome(const char* what) {
    return outcome<T>{errc::would_deadlock, T{},
                      std::string(what) + "() called from a thread that runs the batcher; use the async_ form"};
  }

  void close() noexcept {
    if (core_) core_->begin_shutdown(shutdown_mode::cancel);
  }

  std::shared_ptr<core_type> core_;
};

POWERBATCH_END_NAMESPACE
