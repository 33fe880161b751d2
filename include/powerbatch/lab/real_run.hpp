// lab::run_real_time — replays a trace against a Batcher and a real model in real time: the open-loop load
// generator submits each request at its arrival time (sleeping in between), the dispatcher runs on its own thread,
// the model on one compute thread (the shape the simulation models), and each request's latency is measured from
// its submission to its completion handler.
#pragma once

#include <powerbatch/batcher.hpp>
#include <powerbatch/lab/backend.hpp>
#include <powerbatch/lab/result.hpp>
#include <powerbatch/lab/simulate.hpp>
#include <powerbatch/lab/trace.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <system_error>
#include <future>
#include <optional>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

struct real_time_settings {
  std::shared_ptr<const model> backend;
  // Run the lab's threads (load generator, dispatcher, compute) at real-time priority (SCHED_FIFO, Linux, needs
  // CAP_SYS_NICE): on a machine busy with other work their latency then measures the policy, not the scheduler's
  // queue. Silently ignored where not permitted; run_result::realtime_priority says whether it took effect.
  bool realtime_priority = false;
  energy_model energy = power::platform_energy_model();
  progress_callback progress{};
};

namespace real_detail {

// Puts the calling thread in SCHED_FIFO (returns false if not permitted or not Linux); restore() undoes it.
class realtime_scope {
 public:
  explicit realtime_scope(bool wanted) {
#if defined(__linux__)
    if (!wanted) return;
    if (pthread_getschedparam(pthread_self(), &old_policy_, &old_param_) != 0) return;
    sched_param param{};
    param.sched_priority = 10;
    active_ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
#else
    (void)wanted;
#endif
  }
  ~realtime_scope() {
#if defined(__linux__)
    if (active_) pthread_setschedparam(pthread_self(), old_policy_, &old_param_);
#endif
  }
  realtime_scope(const realtime_scope&) = delete;
  realtime_scope& operator=(const realtime_scope&) = delete;
  bool active() const noexcept { return active_; }

 private:
  bool active_ = false;
#if defined(__linux__)
  int old_policy_ = 0;
  sched_param old_param_{};
#endif
};

// Completion handlers run on the dispatcher's thread only, so the sink needs no lock.
struct real_handler {
  sim_detail::outcome_sink* sink;
  time_point submitted;
  void operator()(std::error_code error, std::int32_t) const {
    const time_point now = std::chrono::steady_clock::now();
    sink->record(error, now - submitted, now);
  }
};

}  // namespace real_detail

template <class Queue, class Timeout, class Priority>
run_result run_real_time(arrival_source& source, const batcher_config<Timeout, Priority>& config,
                         const real_time_settings& settings) {
  using batcher_type = Batcher<Queue, Timeout, Priority, measured_backend>;
  run_result result;
  result.mode = "run";
  sim_detail::outcome_sink sink;
  measured_backend::records records;
  std::uint64_t submitted = 0;

  boost::asio::io_context io(1);
  auto work = boost::asio::make_work_guard(io);
  const bool realtime = settings.realtime_priority;
  std::thread dispatcher([&io, realtime] {
    real_detail::realtime_scope scope(realtime);
    io.run();
  });
  boost::asio::thread_pool compute(1);
  std::optional<real_detail::realtime_scope> compute_scope;  // lives on the compute thread's first task
  if (realtime) {
    std::promise<void> ready;
    boost::asio::post(compute, [&compute_scope, &ready] {
      compute_scope.emplace(true);
      ready.set_value();
    });
    ready.get_future().wait();
  }
  real_detail::realtime_scope generator_scope(realtime);
  result.realtime_priority = generator_scope.active();
  const auto wall_start = std::chrono::steady_clock::now();
  {
    batcher_type batcher(io.get_executor(), compute.get_executor(), measured_backend{settings.backend, &records},
                         config);
    const double length = std::max(1e-9, seconds_of(source.length()));
    const time_point start = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
    time_point next_progress = start;
    arrival a;
    while (source.next(a)) {
      const time_point due = start + a.at;
      // Sleep to the arrival; the kernel's timer slack (~50 us) makes arrivals a little late, never early, and the
      // latency is measured from the actual submission, so the lateness does not count against the policy.
      if (due > std::chrono::steady_clock::now()) std::this_thread::sleep_until(due);
      batcher.async_submit(item{static_cast<std::uint32_t>(submitted)}, sim_detail::options_for(a),
                           real_detail::real_handler{&sink, std::chrono::steady_clock::now()});
      ++submitted;
      if (settings.progress && due >= next_progress) {
        settings.progress(seconds_of(a.at) / length);
        next_progress = due + std::chrono::milliseconds(200);
      }
    }
    batcher.shutdown(shutdown_mode::drain);
    const batcher_stats stats = batcher.stats();
    result.flushes = stats.flushes_by_reason;
    result.wakeups = stats.dispatcher_wakeups;
    result.batches = stats.batches;
    result.span_seconds = seconds_of(sink.last_completion - start);
  }
  work.reset();
  dispatcher.join();
  if (compute_scope) boost::asio::post(compute, [&compute_scope] { compute_scope.reset(); });
  compute.join();
  if (settings.progress) settings.progress(1.0);

  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  result.requests = submitted;
  result.completed = sink.completed;
  result.failed = sink.failed;
  result.rejected = sink.rejected;
  result.rejections = sink.rejections;
  result.latency_ns = sink.latency_ns;
  result.batch_sizes = records.batch_sizes;
  result.busy_seconds = std::chrono::duration<double>(records.busy).count();
  result.energy_joules = modelled_energy(settings.energy, result.busy_seconds, result.wakeups, result.batches);
  return result;
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
