// The handshake between producers and the dispatcher, on real threads: a request whose producer was admitted before
// the dispatcher published its threshold, but pushed only after the dispatcher had looked, must still be batched
// at once when it completes a batch. A queue policy with a gate holds one push to make that interleaving happen.
// (Before the dispatcher checked the admission count after publishing, such a request waited for max_delay.)
// No REQUIRE while threads run: a failure must still reach the shutdown and the joins below.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>
#include <tuple>

using namespace pbtest;

namespace {

// queue::mutex_deque, except that pushing the request with id 1 waits while `hold` is set.
struct gated_queue {
  static inline std::atomic<bool> hold{false};
  static inline std::atomic<bool> holding{false};  // a push is waiting at the gate

  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity) : inner_(capacity) {}
    bool try_push(T&& element) {
      if constexpr (requires { element.input.id; }) {
        if (element.input.id == 1) {
          holding = true;
          while (hold) std::this_thread::yield();
          holding = false;
        }
      }
      return inner_.try_push(std::move(element));
    }
    bool try_pop(T& out) { return inner_.try_pop(out); }

   private:
    typename pb::queue::mutex_deque::template queue<T> inner_;
  };
};

using gated_batcher = pb::Batcher<gated_queue, pb::timeout::size_or_delay, pb::priority::fifo, recording_backend>;
using outcome_future = std::future<std::tuple<std::error_code, int>>;  // use_future with std::error_code

}  // namespace

TEST_CASE("A request admitted before the dispatcher published, pushed after it looked, still completes the batch",
          "[wake]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  gated_batcher::config cfg;
  // Under grouped admission the dispatcher counts request 1 by its group's count instead of the shared one.
  cfg.admission = GENERATE(pb::admission_mode::shared_count, pb::admission_mode::grouped);
  cfg.timeout.max_batch_size = 2;
  cfg.timeout.max_delay = std::chrono::hours(1);  // only the batch size can flush: no timer to rescue a lost wake
  recording_backend backend;
  auto log = backend.log;
  {
    gated_batcher batcher(io.get_executor(), backend, cfg);

    // Request 1 is admitted (counted) and then held at the gate, before it is in the queue.
    gated_queue::hold = true;
    outcome_future first;
    std::thread producer([&] { first = batcher.async_submit(item{1}, asio::use_future); });
    while (!gated_queue::holding) std::this_thread::yield();

    // Request 2 wakes the dispatcher, which files it and now needs one more request: the count says request 1
    // is that one, but the queue does not have it yet.
    outcome_future second = batcher.async_submit(item{2}, asio::use_future);
    std::this_thread::sleep_for(20ms);
    CHECK(second.wait_for(0s) == std::future_status::timeout);
    CHECK(log->batch_count() == 0);

    // Request 1's own producer does not wake the dispatcher (its count, 1, is below the threshold of 2): only
    // the dispatcher, having counted it, can come back for it.
    gated_queue::hold = false;
    producer.join();
    const bool first_done = first.wait_for(5s) == std::future_status::ready;
    const bool second_done = second.wait_for(5s) == std::future_status::ready;
    CHECK(first_done);
    CHECK(second_done);
    if (first_done && second_done) {
      CHECK(first.get() == std::tuple{std::error_code{}, 10});
      CHECK(second.get() == std::tuple{std::error_code{}, 20});
      const auto batches = log->snapshot();
      CHECK(batches.size() == 1);
      const std::vector<int> both{1, 2};
      if (!batches.empty()) CHECK(std::is_permutation(batches[0].begin(), batches[0].end(), both.begin(), both.end()));
      CHECK(batcher.stats().batches == 1);
    }
    batcher.shutdown(pb::shutdown_mode::drain);  // on failure, this is what completes the two requests
  }
  guard.reset();
  io_thread.join();
}
