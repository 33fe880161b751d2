// A Priority policy whose container can take entries but never hand one out: no pop(time_point).
// Expected diagnostic: "Priority policy's container must provide pop(time_point now) -> pending_entry"
#include <powerbatch/backend/function.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/queue/mutex_deque.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <deque>

struct priority_without_pop {
  struct params {};
  template <class Entry>
  class container {
   public:
    explicit container(const params&) {}
    void push(const Entry& entry) { entries_.push_back(entry); }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    powerbatch::time_point oldest_arrival() const { return entries_.front().arrival; }
    template <class Pred, class Sink>
    void erase_if(Pred&&, Sink&&) {}

   private:
    std::deque<Entry> entries_;
  };
};

int main() {
  boost::asio::io_context io;
  auto backend = powerbatch::backend::from_function<int, int>([](int& x) { return 2 * x; });
  powerbatch::Batcher<powerbatch::queue::mutex_deque, powerbatch::timeout::size_or_delay, priority_without_pop,
                      decltype(backend)>
      batcher(io.get_executor(), backend);
}
