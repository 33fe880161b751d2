// powerbatch::runner — the one place powerbatch starts threads, and only when asked: an io_context with its own
// worker threads, for programs that have no executor of their own to give a Batcher.
#pragma once

#include <powerbatch/config.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <optional>
#include <thread>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE

class runner {
 public:
  explicit runner(std::size_t threads = 1) : work_(std::in_place, context_.get_executor()) {
    workers_.reserve(threads == 0 ? 1 : threads);
    for (std::size_t i = 0; i < (threads == 0 ? 1 : threads); ++i) workers_.emplace_back([this] { context_.run(); });
  }
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  // Lets the threads finish the queued work, then joins them. Destroy batchers (or shut them down) first.
  ~runner() { join(); }

  boost::asio::io_context::executor_type get_executor() noexcept { return context_.get_executor(); }
  boost::asio::io_context& context() noexcept { return context_; }

  void join() {
    work_.reset();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }

 private:
  boost::asio::io_context context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> workers_;
};

POWERBATCH_END_NAMESPACE
