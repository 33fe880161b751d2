// A Backend that names its request and result types but cannot run a batch: no run(span, span).
// Expected diagnostic: "Backend must provide run(std::span<input_type>, std::span<output_type>)"
#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/queue/mutex_deque.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <boost/asio/io_context.hpp>

struct backend_without_run {
  using input_type = int;
  using output_type = int;
  int predict(int x) { return 2 * x; }
};

int main() {
  boost::asio::io_context io;
  powerbatch::Batcher<powerbatch::queue::mutex_deque, powerbatch::timeout::size_or_delay, powerbatch::priority::fifo,
                      backend_without_run>
      batcher(io.get_executor());
}
