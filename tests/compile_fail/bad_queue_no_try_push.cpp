// A Queue policy whose queue<T> has try_pop but no try_push.
// Expected diagnostic: "Queue policy must provide try_push(T&&) -> bool"
#include <powerbatch/backend/function.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <boost/asio/io_context.hpp>

#include <cstddef>

struct queue_without_try_push {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t) {}
    bool try_pop(T&) { return false; }
  };
};

int main() {
  boost::asio::io_context io;
  auto backend = powerbatch::backend::from_function<int, int>([](int& x) { return 2 * x; });
  powerbatch::Batcher<queue_without_try_push, powerbatch::timeout::size_or_delay, powerbatch::priority::fifo,
                      decltype(backend)>
      batcher(io.get_executor(), backend);
}
