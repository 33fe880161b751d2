// Control for the compile_fail suite: minimal user-written Queue, Timeout, Priority policies and Backend that meet
// every requirement must compile all the way through the Batcher (construction, async_submit, submit, shutdown).
// Each bad_*.cpp next to this file is one of these policies with one requirement broken.
#include <powerbatch/batcher.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <span>
#include <system_error>
#include <utility>

namespace pb = powerbatch;

struct user_queue {
  template <class T>
  class queue {
   public:
    explicit queue(std::size_t capacity) : capacity_(capacity) {}
    bool try_push(T&& element) {
      std::lock_guard lock(mutex_);
      if (elements_.size() == capacity_) return false;
      elements_.push_back(std::move(element));
      return true;
    }
    bool try_pop(T& out) {
      std::lock_guard lock(mutex_);
      if (elements_.empty()) return false;
      out = std::move(elements_.front());
      elements_.pop_front();
      return true;
    }

   private:
    std::mutex mutex_;
    std::deque<T> elements_;
    std::size_t capacity_;
  };
};

struct user_timeout {
  struct params {
    std::size_t batch_size = 8;
    pb::duration max_delay = std::chrono::milliseconds(2);
  };
  class state {
   public:
    explicit state(const params& p) : params_(p) {}
    pb::decision decide(const pb::lane_view& lane) const {
      if (lane.pending >= params_.batch_size) return pb::decision::flush(params_.batch_size, pb::flush_reason::size);
      if (lane.now >= lane.oldest_arrival + params_.max_delay)
        return pb::decision::flush(lane.pending, pb::flush_reason::delay);
      return pb::decision::wait(lane.oldest_arrival + params_.max_delay, params_.batch_size);
    }

   private:
    params params_;
  };
};

struct user_priority {
  struct params {};
  template <class Entry>
  class container {
   public:
    explicit container(const params&) {}
    void push(const Entry& entry) { entries_.push_back(entry); }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    Entry pop(pb::time_point) {
      Entry front = entries_.front();
      entries_.pop_front();
      return front;
    }
    pb::time_point oldest_arrival() const { return entries_.front().arrival; }
    template <class Pred, class Sink>
    void erase_if(Pred&& pred, Sink&& sink) {
      std::erase_if(entries_, [&](const Entry& entry) {
        if (!pred(entry)) return false;
        sink(entry);
        return true;
      });
    }

   private:
    std::deque<Entry> entries_;
  };
};

struct user_backend {
  using input_type = int;
  using output_type = int;
  void run(std::span<int> inputs, std::span<int> outputs) {
    for (std::size_t i = 0; i < inputs.size(); ++i) outputs[i] = 2 * inputs[i];
  }
};

int main() {
  boost::asio::io_context io;
  pb::Batcher<user_queue, user_timeout, user_priority, user_backend> batcher(io.get_executor());
  int sum = 0;
  batcher.async_submit(21, pb::request_options{}, [&](std::error_code error, int value) {
    if (!error) sum += value;
  });
  batcher.async_shutdown(pb::shutdown_mode::drain, [] {});
  io.run();
  return sum == 42 ? 0 : 1;
}
