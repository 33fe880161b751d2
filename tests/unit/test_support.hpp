// Shared test fixtures: a manual-clock io_context that tests step by hand, and a backend that records batches.
#pragma once

#include <powerbatch/powerbatch.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

namespace pbtest {

namespace pb = powerbatch;
namespace asio = boost::asio;
using namespace std::chrono_literals;

// Inputs carry an id, so tests can tell which requests reached the backend and in what order.
struct item {
  int id = 0;
};

// What every recording backend saw: one entry per batch, ids in batch order.
struct batch_log {
  std::mutex mutex;
  std::vector<std::vector<int>> batches;
  std::function<void(const std::vector<int>&)> on_batch;  // may throw to fail the batch, or advance the clock

  std::vector<std::vector<int>> snapshot() {
    std::lock_guard lock(mutex);
    return batches;
  }
  std::size_t batch_count() {
    std::lock_guard lock(mutex);
    return batches.size();
  }
};

// Returns id * 10 for each input; records every batch in a shared log.
struct recording_backend {
  using input_type = item;
  using output_type = int;

  std::shared_ptr<batch_log> log = std::make_shared<batch_log>();
  std::size_t max_batch = 1000000;

  void run(std::span<item> inputs, std::span<int> outputs) {
    std::vector<int> ids;
    for (const item& i : inputs) ids.push_back(i.id);
    {
      std::lock_guard lock(log->mutex);
      log->batches.push_back(ids);
    }
    if (log->on_batch) log->on_batch(ids);
    for (std::size_t i = 0; i < inputs.size(); ++i) outputs[i] = inputs[i].id * 10;
  }
  std::size_t max_batch_size() const noexcept { return max_batch; }
};

// One completed request as a handler saw it.
struct result {
  int id;
  std::error_code error;
  int value;
};

// Drives an io_context by hand on the manual clock: nothing happens between calls, so tests are deterministic.
class manual_loop {
 public:
  manual_loop() { pb::manual_clock::reset(); }

  asio::io_context context;
  std::vector<result> results;

  // Runs everything that is ready now.
  void settle() {
    for (int round = 0; round < 1000; ++round) {
      context.restart();
      if (context.poll() == 0) break;
    }
  }
  void advance(pb::duration d) {
    pb::manual_clock::advance(d);
    settle();
  }

  auto recorder(int id) {
    return [this, id](std::error_code error, int value) { results.push_back({id, error, value}); };
  }
  const result* find(int id) const {
    for (const auto& r : results)
      if (r.id == id) return &r;
    return nullptr;
  }
  std::size_t count(std::error_code error) const {
    std::size_t n = 0;
    for (const auto& r : results) n += r.error == error;
    return n;
  }
};

// One Queue x Priority x admission combination for the behaviour suite, and every Priority policy over one Queue.
template <class Q, class P, pb::admission_mode A = pb::admission_mode::shared_count>
struct combo {
  using queue = Q;
  using priority = P;
  static constexpr pb::admission_mode admission = A;
};

template <class Q, pb::admission_mode A = pb::admission_mode::shared_count>
using with_every_priority =
    std::tuple<combo<Q, pb::priority::fifo, A>, combo<Q, pb::priority::strict_levels<3>, A>,
               combo<Q, pb::priority::earliest_deadline, A>, combo<Q, pb::priority::aging<3>, A>>;

template <class... Queues>
using combos_over = decltype(std::tuple_cat(with_every_priority<Queues>{}...));

// An Observer that keeps what each batch says of its requests' arrivals, when it left, and why.
struct arrival_observer {
  std::vector<std::vector<pb::time_point>> arrivals;  // per batch, in batch order
  std::vector<pb::time_point> dispatched;
  std::vector<pb::flush_reason> reasons;
  void on_batch(const pb::batch_record& r) {
    arrivals.emplace_back(r.arrivals.begin(), r.arrivals.end());
    dispatched.push_back(r.dispatched_at);
    reasons.push_back(r.reason);
  }
};

}  // namespace pbtest
