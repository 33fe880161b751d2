// A Queue policy whose try_push cannot report a full queue: it returns void instead of bool.
// Expected diagnostic: "Queue policy must provide try_push(T&&) -> bool"
#include <powerbatch/backend/function.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <boost/asio/io_context.hpp>

#include <cstddef>

struct queue_with_void_try_push {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t) {}
    void try_push(T&&) {}
    bool try_pop(T&) { return false; }
  };
};

int main() {
  boost::asio::io_context io;
  auto backend = powerbatch::backend::from_function<int, int>([](int& x) { return 2 * x; });
  powerbatch::Batcher<queue_with_void_try_push, powerbatch::timeout::size_or_delay, powerbatch::priority::fifo,
                      decltype(backend)>
      batcher(io.get_executor(), backend);
}
