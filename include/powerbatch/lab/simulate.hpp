// lab::simulate — a discrete-event simulation that runs the real Batcher (the same Queue, Timeout and Priority code
// as production) on a virtual clock, with the backend replaced by its cost model t(n) = a·n + b.
//
// How virtual time moves (one thread, no sleeps):
//  - Events are arrivals (from the trace), the end of the running batch, and the batcher's timer (sim_clock learns
//    each timer's expiry from Asio: see sim_clock.hpp). The loop jumps to the earliest and handles it.
//  - The dispatcher runs on an io_context that the loop polls right after anything that posted work to it (an arrival
//    that woke the dispatcher, a timer, a finished batch), so every decision is taken at the instant it would be in
//    real time.
//  - Batches go to a simulated compute executor: one server, like a compute thread_pool(1). A batch posted at t
//    starts at max(t, end of the previous batch) and finishes cost(n) later. At its finish the loop sets the clock to
//    its start and runs the batcher's real compute handler: the simulated backend advances the clock by exactly
//    cost(n), so the batcher measures the true service time (latency-fitting policies learn from it), and the
//    results are delivered at the finish instant. The loop checks that the clock lands exactly there.
// One simulation runs at a time per process (sim_clock is process-wide).
#pragma once

#include <powerbatch/batcher.hpp>
#include <powerbatch/lab/backend.hpp>
#include <powerbatch/lab/result.hpp>
#include <powerbatch/lab/sim_clock.hpp>
#include <powerbatch/lab/trace.hpp>

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// Called now and then with the fraction of the trace done (0..1).
using progress_callback = std::function<void(double fraction)>;

struct simulation_settings {
  cost_model cost{std::chrono::microseconds(20), std::chrono::microseconds(200)};
  std::size_t max_batch = 256;  // the modelled backend's largest batch
  energy_model energy = power::platform_energy_model();
  progress_callback progress{};
};

namespace sim_detail {

// A move-only void() task (the batcher's compute handler), erased once per batch.
class task {
 public:
  task() = default;
  template <class F>
  explicit task(F f) : impl_(std::make_unique<model_of<F>>(std::move(f))) {}
  void operator()() {
    auto impl = std::move(impl_);
    impl->call();
  }

 private:
  struct concept_ {
    virtual ~concept_() = default;
    virtual void call() = 0;
  };
  template <class F>
  struct model_of final : concept_ {
    explicit model_of(F f) : fn(std::move(f)) {}
    void call() override { std::move(fn)(); }
    F fn;
  };
  std::unique_ptr<concept_> impl_;
};

// The one simulated compute server: batches queue in order and run one at a time.
class compute_server {
 public:
  cost_model cost;
  std::function<std::uint64_t()> batched_so_far;  // the batcher's count of requests sent to the backend

  // A batch was posted now. The batcher counts a batch's requests just before posting it, so the count's growth
  // since the previous post is this batch's size.
  void post(task t) {
    // Asio's post() wraps the handler in a dispatcher that, when run, hands the handler back to its executor
    // (this one) allowing blocking: that second hand-over is the same batch, so it runs at once.
    if (in_batch_) return t();
    const std::uint64_t total = batched_so_far();
    const std::size_t n = static_cast<std::size_t>(total - counted_);
    counted_ = total;
    waiting_.push_back(queued{n, std::move(t)});
    if (!busy_) start_next();
  }
  bool busy() const noexcept { return busy_; }
  time_point finish_time() const noexcept { return busy_ ? finish_ : time_point::max(); }

  // At finish_time(): runs the batch's compute handler (which posts its delivery), then starts the next batch.
  void finish() {
    queued running = std::move(running_);
    const time_point started = started_, finish = finish_;
    busy_ = false;
    sim_clock::set(started);
    in_batch_ = true;
    try {
      running.work();  // the simulated backend advances the clock by cost(n)
    } catch (...) {
      in_batch_ = false;
      throw;
    }
    in_batch_ = false;
    if (sim_clock::now() != finish)
      throw std::logic_error("simulation: a batch of " + std::to_string(running.size) +
                             " did not end at its modelled time; the batch-size inference is out of step");
    start_next();
  }

 private:
  struct queued {
    std::size_t size = 0;
    task work;
  };
  void start_next() {
    if (waiting_.empty()) return;
    running_ = std::move(waiting_.front());
    waiting_.pop_front();
    busy_ = true;
    started_ = sim_clock::now();
    finish_ = started_ + cost(running_.size);
  }

  std::deque<queued> waiting_;
  queued running_;
  bool busy_ = false;
  bool in_batch_ = false;
  time_point started_{}, finish_{};
  std::uint64_t counted_ = 0;
};

// An Asio executor that hands posted work to the compute server instead of running it.
class compute_executor {
 public:
  compute_executor(boost::asio::execution_context& context, compute_server& server) noexcept
      : context_(&context), server_(&server) {}

  boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept { return *context_; }
  static constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) noexcept {
    return boost::asio::execution::blocking.never;
  }
  compute_executor require(boost::asio::execution::blocking_t::never_t) const noexcept { return *this; }
  template <class F>
  void execute(F&& f) const {
    server_->post(task(std::decay_t<F>(std::forward<F>(f))));
  }
  friend bool operator==(const compute_executor& a, const compute_executor& b) noexcept {
    return a.server_ == b.server_;
  }
  friend bool operator!=(const compute_executor& a, const compute_executor& b) noexcept { return !(a == b); }

 private:
  boost::asio::execution_context* context_;
  compute_server* server_;
};

// The simulated backend: costs cost(n) of virtual time, answers 0.
struct simulated_backend {
  using input_type = item;
  using output_type = std::int32_t;
  cost_model cost;
  std::size_t max_batch = 256;
  metrics::histogram_snapshot* batch_sizes = nullptr;
  duration* busy = nullptr;

  void run(std::span<item> inputs, std::span<std::int32_t>) {
    const duration t = cost(inputs.size());
    sim_clock::advance(t);
    *busy += t;
    batch_sizes->record(inputs.size());
  }
  std::size_t max_batch_size() const noexcept { return max_batch; }
};

// Collects each request's outcome.
struct outcome_sink {
  metrics::histogram_snapshot latency_ns;
  std::uint64_t completed = 0, failed = 0, rejected = 0;
  std::array<std::uint64_t, metrics::rejection_slot_count> rejections{};
  time_point last_completion{};

  std::uint64_t finished() const noexcept { return completed + failed + rejected; }
  void record(std::error_code error, duration latency, time_point now) {
    if (!error) {
      ++completed;
      latency_ns.record(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count()));
      last_completion = now;
    } else if (error == errc::backend_failed) {
      ++failed;
    } else {
      ++rejected;
      ++rejections[metrics::rejection_slot(static_cast<errc>(error.value()))];
    }
  }
};

struct sim_handler {
  outcome_sink* sink;
  time_point submitted;
  void operator()(std::error_code error, std::int32_t) const {
    const time_point now = sim_clock::now();
    sink->record(error, now - submitted, now);
  }
};

inline request_options options_for(const arrival& a) noexcept {
  request_options options;
  options.priority = a.priority;
  options.key = a.key;
  if (a.timeout > duration::zero()) options.timeout = a.timeout;
  return options;
}

using sim_timer_service = boost::asio::detail::deadline_timer_service<
    boost::asio::detail::chrono_time_traits<sim_clock, boost::asio::wait_traits<sim_clock>>>;

// Runs every handler that is ready at the current virtual instant.
inline void settle(boost::asio::io_context& io) {
  for (;;) {
    io.restart();
    if (io.poll() == 0) return;
  }
}

}  // namespace sim_detail

// Replays `source` through a Batcher<Queue, Timeout, Priority> on virtual time. Deterministic: the same trace and
// settings give the same numbers.
template <class Queue, class Timeout, class Priority>
run_result simulate(arrival_source& source, const batcher_config<Timeout, Priority>& config,
                    const simulation_settings& settings) {
  using namespace sim_detail;
  using batcher_type = Batcher<Queue, Timeout, Priority, simulated_backend, sim_clock>;
  const auto wall_start = std::chrono::steady_clock::now();

  run_result result;
  result.mode = "simulate";
  sim_clock::set(time_point(std::chrono::hours(1)));
  const time_point start = sim_clock::now();

  boost::asio::io_context io(1);
  auto& timers = boost::asio::use_service<sim_timer_service>(io);
  compute_server server;
  server.cost = settings.cost;
  outcome_sink sink;
  duration busy{};
  std::uint64_t submitted = 0;
  {
    batcher_type batcher(io.get_executor(), compute_executor(io, server),
                         simulated_backend{settings.cost, settings.max_batch, &result.batch_sizes, &busy}, config);
    server.batched_so_far = [&batcher] { return batcher.stats().batched_requests; };

    const double length = std::max(1e-9, seconds_of(source.length()));
    arrival next{};
    bool more = source.next(next);
    std::uint64_t wakes_seen = 0, refusals_seen = 0;
    for (;;) {
      const time_point arrival_at = more ? start + next.at : time_point::max();
      const time_point finish_at = server.finish_time();
      const time_point timer_at = timers.next_expiry();
      if (finish_at <= arrival_at && finish_at <= timer_at && finish_at != time_point::max()) {
        sim_clock::set(finish_at);
        server.finish();
        settle(io);
      } else if (timer_at <= arrival_at && timer_at != time_point::max()) {
        sim_clock::set(timer_at);
        timers.fire_due();
        settle(io);
      } else if (more) {
        sim_clock::set(arrival_at);
        batcher.async_submit(item{static_cast<std::uint32_t>(submitted)}, options_for(next),
                             sim_handler{&sink, arrival_at});
        ++submitted;
        // Poll only when the arrival woke the dispatcher (or was refused): otherwise nothing was posted.
        const batcher_stats s = batcher.stats();
        if (s.wakeups_posted != wakes_seen || s.rejected() != refusals_seen) {
          wakes_seen = s.wakeups_posted;
          refusals_seen = s.rejected();
          settle(io);
        }
        more = source.next(next);
        if (settings.progress && (submitted & 0xffff) == 0) settings.progress(seconds_of(next.at) / length);
      } else {
        settle(io);  // rejections posted at submission
        if (sink.finished() == submitted) break;
        if (timers.next_expiry() == time_point::max() && !server.busy())
          throw std::logic_error("simulation stalled: " + std::to_string(submitted - sink.finished()) +
                                 " requests waiting with no timer and no batch running");
      }
    }
    const batcher_stats stats = batcher.stats();
    result.flushes = stats.flushes_by_reason;
    result.wakeups = stats.dispatcher_wakeups;
    result.batches = stats.batches;
  }
  settle(io);  // the batcher's shutdown handlers
  if (settings.progress) settings.progress(1.0);

  result.requests = submitted;
  result.completed = sink.completed;
  result.failed = sink.failed;
  result.rejected = sink.rejected;
  result.rejections = sink.rejections;
  result.latency_ns = sink.latency_ns;
  result.span_seconds = seconds_of(sink.last_completion - start);
  result.busy_seconds = seconds_of(busy);
  result.energy_joules = modelled_energy(settings.energy, result.busy_seconds, result.wakeups, result.batches);
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
