// A Timeout policy whose state never decides anything: it has params and state, but no decide().
// Expected diagnostic: "Timeout policy's state must provide decide(const lane_view&) -> decision"
#include <powerbatch/backend/function.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/queue/mutex_deque.hpp>

#include <boost/asio/io_context.hpp>

#include <cstddef>

struct timeout_without_decide {
  struct params {
    std::size_t max_batch_size = 8;
  };
  class state {
   public:
    explicit state(const params&) {}
  };
};

int main() {
  boost::asio::io_context io;
  auto backend = powerbatch::backend::from_function<int, int>([](int& x) { return 2 * x; });
  powerbatch::Batcher<powerbatch::queue::mutex_deque, timeout_without_decide, powerbatch::priority::fifo,
                      decltype(backend)>
      batcher(io.get_executor(), backend);
}
