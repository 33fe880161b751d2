// An Observer whose only hook is misspelt would silently watch nothing; it must not compile.
// Expected diagnostic: "Observer must provide on_batch(const batch_record&), on_rejected(errc, std::size_t) or
// on_dispatcher_wakeup(bool)"
#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/queue/mutex_deque.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <span>

struct misspelt_observer {
  void on_batches(const powerbatch::batch_record&) {}
};

struct doubling_backend {
  using input_type = int;
  using output_type = int;
  void run(std::span<int> in, std::span<int> out) {
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = 2 * in[i];
  }
};

int main() {
  boost::asio::io_context io;
  powerbatch::Batcher<powerbatch::queue::mutex_deque, powerbatch::timeout::size_or_delay, powerbatch::priority::fifo,
                      doubling_backend, std::chrono::steady_clock, misspelt_observer>
      batcher(io.get_executor());
}
