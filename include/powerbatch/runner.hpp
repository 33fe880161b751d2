// powerbatch::runner — the one place powerbatch starts threads, and only when asked: an io_context with its own
// worker threads, for programs that have no executor of their own to give a Batcher.
//
// runner::options::timer_slack (optional) sets each worker's timer slack before it runs anything
// (power::set_thread_timer_slack: Linux prctl(PR_SET_TIMERSLACK); elsewhere it is not supported and the error is
// kept). See power/timer_slack.hpp for which of the threads' waits it affects: not Asio's timers on Linux unless
// Asio is built with BOOST_ASIO_DISABLE_TIMERFD.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/power/timer_slack.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <latch>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE

class runner {
 public:
  struct options {
    std::size_t threads = 1;
    std::optional<std::chrono::nanoseconds> timer_slack;  // none: leave the threads' slack as inherited
  };

  explicit runner(std::size_t threads = 1) : runner(options{threads, std::nullopt}) {}

  // Returns once every worker has applied the options, so timer_slack_error() is final.
  explicit runner(const options& opts) : work_(std::in_place, context_.get_executor()) {
    const std::size_t n = opts.threads == 0 ? 1 : opts.threads;
    slack_errors_.resize(n);
    // Shared, not on this stack: a worker may still be inside count_down() when wait() returns.
    auto configured = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(n));
    workers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      workers_.emplace_back([this, i, slack = opts.timer_slack, configured] {
        if (slack) slack_errors_[i] = power::set_thread_timer_slack(*slack);
        configured->count_down();
        context_.run();
      });
    configured->wait();
  }
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  // Lets the threads finish the queued work, then joins them. Destroy batchers (or shut them down) first.
  ~runner() { join(); }

  boost::asio::io_context::executor_type get_executor() noexcept { return context_.get_executor(); }
  boost::asio::io_context& context() noexcept { return context_; }

  // The first worker's failure to set the requested timer slack; empty when it was set or not requested.
  std::error_code timer_slack_error() const noexcept {
    for (const auto& e : slack_errors_)
      if (e) return e;
    return {};
  }

  void join() {
    work_.reset();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }

 private:
  boost::asio::io_context context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::error_code> slack_errors_;
  std::vector<std::thread> workers_;
};

POWERBATCH_END_NAMESPACE
