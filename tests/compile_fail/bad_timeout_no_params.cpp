// A Timeout policy with a decide() but no nested params struct for its knobs.
// Expected diagnostic: "Timeout policy must provide a nested `params` struct"
#include <powerbatch/backend/function.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/queue/mutex_deque.hpp>

#include <boost/asio/io_context.hpp>

struct timeout_without_params {
  class state {
   public:
    powerbatch::decision decide(const powerbatch::lane_view& lane) const {
      return powerbatch::decision::flush(lane.pending, powerbatch::flush_reason::size);
    }
  };
};

int main() {
  boost::asio::io_context io;
  auto backend = powerbatch::backend::from_function<int, int>([](int& x) { return 2 * x; });
  powerbatch::Batcher<powerbatch::queue::mutex_deque, timeout_without_params, powerbatch::priority::fifo,
                      decltype(backend)>
      batcher(io.get_executor(), backend);
}
