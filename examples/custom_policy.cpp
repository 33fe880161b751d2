// A user-written Timeout policy, compared with the built-in size_or_delay on the same load.
//
// `patient_min_batch` never sends a batch smaller than `min_batch` unless a request has waited `patience`:
// useful when the backend's fixed cost per batch dominates. A Timeout policy is a params struct and a state
// with decide(); the batcher does the rest (keys, priorities, deadlines, shutdown).
#include <powerbatch/powerbatch.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

namespace pb = powerbatch;
using namespace std::chrono_literals;

struct patient_min_batch {
  struct params {
    std::size_t min_batch = 8;
    std::size_t max_batch = 32;
    pb::duration patience = 5ms;
  };

  class state {
   public:
    explicit state(const params& p) : p_(p) {}

    pb::decision decide(const pb::lane_view& v) const {
      const std::size_t cap = std::min(p_.max_batch, v.max_batch_size);
      if (v.pending >= cap) return pb::decision::flush(cap, pb::flush_reason::size);
      const pb::time_point give_up = v.oldest_arrival + p_.patience;
      if (v.now >= give_up) return pb::decision::flush(v.pending, pb::flush_reason::delay);
      if (v.pending >= p_.min_batch) return pb::decision::flush(v.pending, pb::flush_reason::size);
      return pb::decision::wait(give_up, p_.min_batch);  // look again at `give_up` or at min_batch waiting
    }

   private:
    params p_;
  };
};

// A backend whose cost is mostly per batch: 300 us + 5 us per item.
struct fixed_cost_model {
  using input_type = int;
  using output_type = int;
  void run(std::span<int> in, std::span<int> out) {
    std::this_thread::sleep_for(300us + 5us * in.size());
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] + 1;
  }
};

template <class Timeout>
void run_load(const char* name, typename pb::batcher_config<Timeout, pb::default_priority> cfg) {
  pb::runner run(1);
  pb::Batcher<pb::default_queue, Timeout, pb::default_priority, fixed_cost_model> batcher(run.get_executor(), {}, cfg);
  std::atomic<int> ok{0};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) {  // about 4 requests per ms
    batcher.async_submit(i, [&](std::error_code ec, int) { ok += !ec; });
    if (i % 4 == 3) std::this_thread::sleep_for(1ms);
  }
  batcher.shutdown(pb::shutdown_mode::drain);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto s = batcher.stats();
  std::printf("%-20s completed %5d in %.2f s  batches %5llu  mean batch %5.2f  wake-ups %5llu\n", name, ok.load(),
              seconds, static_cast<unsigned long long>(s.batches), s.mean_batch_size(),
              static_cast<unsigned long long>(s.dispatcher_wakeups));
  if (ok.load() != 2000) std::exit(1);
}

int main() {
  pb::batcher_config<pb::timeout::size_or_delay, pb::default_priority> builtin;
  builtin.timeout.max_batch_size = 32;
  builtin.timeout.max_delay = 500us;
  run_load<pb::timeout::size_or_delay>("size_or_delay", builtin);

  pb::batcher_config<patient_min_batch, pb::default_priority> custom;
  custom.timeout.min_batch = 8;
  custom.timeout.patience = 5ms;
  run_load<patient_min_batch>("patient_min_batch", custom);
}
