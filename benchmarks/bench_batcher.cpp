// bench_batcher — powerbatch against a competent mutex + condition-variable batcher, side by side in one run.
//
//   <variant>/hot_path            2 producers, no-op int -> int backend, callback completion: items_per_second and
//                                 heap allocations per request in steady state
//   <variant>/hot_path_1producer  the same with one producer (boost_spsc can only run this one)
//   powerbatch_default/hot_path_timeout  the hot path with a 1 s timeout on every request (none expires)
//   interleaved/hot_path_ratios   the hot path of reference_mutex_condvar, powerbatch_default and
//                                 powerbatch_grouped_admission taking turns, 12 rounds of one slice each: the ratios'
//                                 medians and quartiles over the rounds (steadier than separate runs where the
//                                 machine's speed drifts)
//   <variant>/dispatch_cost       one thread submits 4096 requests, then completes them: producer_ns and dispatcher_ns,
//                                 each side's own work per request (powerbatch and ceiling_sharded_ring)
//   powerbatch_default/dispatch_cost_timeout  the same with a 1 s timeout on every request
//   <variant>/flush_timing        sparse single requests, max_delay 1 ms: how late after max_delay the backend starts
//                                 (late_us_p50, late_us_p99, late_us_max; early_us_max must stay 0); for powerbatch
//                                 the busy wait its timer lead costs (busy_wait_us_per_flush, busy_waited_share) and
//                                 the lead in use at the end (timer_lead_us): powerbatch_default learns it (for its
//                                 25 µs flush_lateness_target), powerbatch_no_lead has none (max_learned_timer_lead =
//                                 0), powerbatch_timer_lead_100us sets config timer_lead = 100 µs
//   powerbatch_default/idle       voluntary context switches of the executor's thread while idle for 2 s
//
// Variants: powerbatch_default (default_batcher: queue::sharded_ring) and powerbatch_<queue> for every other queue
// policy; powerbatch_grouped_admission (default_batcher with config admission = grouped: per-group credits, order
// from the CPU counter; counter grouped_admission = 0 where this machine does not trust it); the references of
// reference_mutex_condvar.hpp: reference_mutex_condvar (one FIFO of requests, the common design),
// reference_mutex_condvar_batch_swap (TensorFlow's batch forming: a whole batch leaves by one pointer swap) and
// reference_mutex_condvar_std_deque (the FIFO as a literal std::deque). Yardsticks that are not batchers:
// ceiling_moodycamel_spin/hot_path (producers -> moodycamel -> a busy-polling consumer: the most a batcher over
// moodycamel could move), ceiling_spsc_rings/hot_path (a ring per producer, 16-byte items, busy-polling consumer: the
// most one consumer thread can take from these producers on this machine), ceiling_sharded_ring/hot_path
// (powerbatch's own request, completion and queue with a busy-polling consumer that forms batches straight from the
// queue: the most a batcher built from those parts could move; arrivals stamped as Batcher stamps them), its four
// variants ceiling_sharded_ring_shared_admission (plus one atomic add per request to a word all producers share, as
// Batcher's admission: what that costs), ceiling_sharded_ring_ordered_stamp (stamped with the counter's ordered
// read instead, as grouped admission stamps: the most that mode could move), ceiling_sharded_ring_no_clock (the
// request without its arrival time: what a free stamp would allow) and ceiling_sharded_ring_bare_items (16-byte
// items, no clock, in the same queue: what the request's weight costs), and
// floor_asio_steady_timer/flush_timing (a bare 1 ms Asio timer armed from another thread: the wake-up latency any
// Asio-based batcher inherits).
//
// Every batcher gets one thread to batch and to run the backend and callbacks: powerbatch an io_context run by one
// thread, the reference its batching thread. Producers bound their requests in flight (a window of `window`
// outstanding requests each; they yield while it is full), the same for all.
//
// Allocations are counted by replacing the global operator new (allocs_per_request) and, on glibc without
// sanitizers, by interposing malloc, calloc, realloc, aligned_alloc, memalign and posix_memalign too
// (heap_allocs_per_request: every heap allocation, including operator new's and those that bypass it: Asio's
// recycling allocator calls std::aligned_alloc directly, moodycamel's queue calls std::malloc).
// Diagnostics: mean_batch, wakeups_per_batch (dispatcher runs, or returns from the reference's condition-variable
// waits), sleeps_per_batch (voluntary context switches of the whole process) and cpu_busy (cores used on average).
//
// Typical use: bench_batcher                       (the whole set, about 40 s; each hot path runs 1 s)
//              bench_batcher --benchmark_filter=hot_path --benchmark_min_time=2 --benchmark_repetitions=3
//              bench_batcher --benchmark_min_time=0.01   (smoke run, a few seconds)
// The console output ends with each variant's ratio to its baseline, both from this run (ratio_report.hpp).
#include <powerbatch/powerbatch.hpp>
#include <powerbatch/queue/boost_lockfree.hpp>
#include <powerbatch/queue/boost_spsc.hpp>
#include <powerbatch/queue/moodycamel.hpp>
#include <powerbatch/queue/mutex_deque.hpp>

#include "ratio_report.hpp"
#include "reference_mutex_condvar.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include <concurrentqueue/concurrentqueue.h>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>
#endif

// ---- allocation counting ----------------------------------------------------------------------------------------

namespace alloc_count {
std::atomic<std::uint64_t> news{0};     // calls of any global operator new
std::atomic<std::uint64_t> mallocs{0};  // malloc-family calls, operator new's included (0 when not interposed)
}  // namespace alloc_count

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define BENCH_SANITIZED 1
#endif
#endif

#if defined(__GLIBC__) && !defined(BENCH_SANITIZED)
#define BENCH_COUNT_MALLOC 1
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* malloc(std::size_t size) noexcept {
  alloc_count::mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept {
  alloc_count::mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  alloc_count::mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void* aligned_alloc(std::size_t align, std::size_t size) noexcept {
  alloc_count::mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(align, size);
}
void* memalign(std::size_t align, std::size_t size) noexcept {
  alloc_count::mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(align, size);
}
int posix_memalign(void** out, std::size_t align, std::size_t size) noexcept {
  if (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void*) != 0) return 22;  // EINVAL
  alloc_count::mallocs.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(align, size);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}
#endif

namespace {
void* counted_new(std::size_t size) {
  alloc_count::news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* counted_new_aligned(std::size_t size, std::align_val_t align) {
  alloc_count::news.fetch_add(1, std::memory_order_relaxed);
  const std::size_t a = std::max(static_cast<std::size_t>(align), sizeof(void*));
  const std::size_t rounded = (size + a - 1) / a * a;
  if (void* p = std::aligned_alloc(a, rounded == 0 ? a : rounded)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return counted_new(size); }
void* operator new[](std::size_t size) { return counted_new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) { return counted_new_aligned(size, align); }
void* operator new[](std::size_t size, std::align_val_t align) { return counted_new_aligned(size, align); }
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return counted_new_aligned(size, align);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return counted_new_aligned(size, align);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

namespace pb = powerbatch;
namespace asio = boost::asio;
using bench_clock = std::chrono::steady_clock;

// Set when a benchmark could not measure what it should; main() then exits non-zero (for the smoke test).
std::atomic<bool> any_failed{false};

void fail(benchmark::State& state, const char* why) {
  any_failed = true;
  state.SkipWithError(why);
}

// ---- shared parameters ------------------------------------------------------------------------------------------

constexpr std::size_t max_batch_size = 64;
constexpr auto max_delay = std::chrono::milliseconds(1);
#ifndef BENCH_WINDOW
#define BENCH_WINDOW 2048
#endif
constexpr std::uint64_t window = BENCH_WINDOW;       // outstanding requests per producer
constexpr std::uint64_t per_producer_iteration = 100'000;
constexpr std::uint64_t per_producer_warmup = 50'000;
constexpr std::uint64_t per_producer_slice = 400'000;  // hot_path_interleaved
constexpr std::size_t powerbatch_capacity = 8192;    // > producers x window: the queue never refuses
constexpr int flush_samples = 1000;
constexpr auto idle_time = std::chrono::seconds(2);

// The no-op backend: int -> int, a whole batch per call.
struct noop_batch {
  void operator()(std::span<int> in, std::span<int> out) const noexcept {
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] + 1;
  }
};

// ---- producers --------------------------------------------------------------------------------------------------

// Completions of one producer's requests; written by the single thread that runs callbacks.
struct alignas(64) producer_slot {
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::uint64_t submitted = 0;  // producer thread only
};

inline void bump(std::atomic<std::uint64_t>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// The completion every variant uses: counts, and counts errors (there must be none).
struct count_completion {
  producer_slot* slot;
  void operator()(std::error_code error, int) const noexcept {
    if (error) bump(slot->failed);
    bump(slot->completed);
  }
};

// Submits `count` requests keeping at most `window` outstanding, then waits until all have completed.
template <class Submit>
void produce(Submit& submit, producer_slot& slot, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    while (slot.submitted - slot.completed.load(std::memory_order_acquire) >= window) std::this_thread::yield();
    submit(static_cast<int>(i), count_completion{&slot});
    ++slot.submitted;
  }
  while (slot.completed.load(std::memory_order_acquire) != slot.submitted) std::this_thread::yield();
}

// The calling thread is producer 0; producers 1..n-1 are parked threads started once per benchmark run, so
// nothing is created (or allocated) per iteration.
class producer_team {
 public:
  explicit producer_team(int producers) {
    for (int p = 1; p < producers; ++p) threads_.emplace_back([this, p] { helper(p); });
  }
  producer_team(const producer_team&) = delete;
  producer_team& operator=(const producer_team&) = delete;
  ~producer_team() {
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Runs work(p) on every producer p and returns when all have returned.
  template <class Work>
  void run(Work& work) {
    work_ = &work;
    call_ = [](void* w, int p) { (*static_cast<Work*>(w))(p); };
    finished_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    work(0);
    const auto helpers = static_cast<std::uint32_t>(threads_.size());
    for (std::uint32_t seen = finished_.load(std::memory_order_acquire); seen != helpers;
         seen = finished_.load(std::memory_order_acquire))
      finished_.wait(seen, std::memory_order_acquire);
  }

 private:
  void helper(int p) {
    std::uint32_t seen = 0;
    for (;;) {
      generation_.wait(seen, std::memory_order_acquire);
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      call_(work_, p);
      finished_.fetch_add(1, std::memory_order_acq_rel);
      finished_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint32_t> finished_{0};
  std::atomic<bool> stop_{false};
  void* work_ = nullptr;
  void (*call_)(void*, int) = nullptr;
};

// Process-wide CPU time and voluntary context switches (blocking sleeps of any thread).
struct process_usage {
  double cpu_seconds = 0;
  double sleeps = 0;
  static process_usage now() {
    process_usage u;
#if defined(__linux__)
    rusage r{};
    ::getrusage(RUSAGE_SELF, &r);
    u.cpu_seconds = static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
                    static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
    u.sleeps = static_cast<double>(r.ru_nvcsw);
#endif
    return u;
  }
};

struct batch_stats {
  std::uint64_t batches = 0;
  std::uint64_t wakeups = 0;
};

// The hot-path measurement shared by every variant. submit(int, count_completion) submits one request;
// stats() reads the batcher's batch and wake-up counts.
template <class Submit, class Stats>
void run_hot_path(benchmark::State& state, int producers, Submit submit, Stats stats) {
  producer_team team(producers);
  std::array<producer_slot, 2> slots;
  std::uint64_t per_producer = per_producer_warmup;
  auto work = [&](int p) { produce(submit, slots[static_cast<std::size_t>(p)], per_producer); };

  team.run(work);  // warm-up: queues, rings, pools and thread-local caches reach their steady state
  per_producer = per_producer_iteration;

  std::uint64_t news = 0, mallocs = 0, items = 0;
  double cpu = 0, sleeps = 0, wall = 0;
  const batch_stats before = stats();
  for (auto _ : state) {
    const std::uint64_t n0 = alloc_count::news.load(std::memory_order_relaxed);
    const std::uint64_t m0 = alloc_count::mallocs.load(std::memory_order_relaxed);
    const process_usage u0 = process_usage::now();
    const auto t0 = bench_clock::now();
    team.run(work);
    const auto t1 = bench_clock::now();
    const process_usage u1 = process_usage::now();
    news += alloc_count::news.load(std::memory_order_relaxed) - n0;
    mallocs += alloc_count::mallocs.load(std::memory_order_relaxed) - m0;
    items += per_producer * static_cast<std::uint64_t>(producers);
    cpu += u1.cpu_seconds - u0.cpu_seconds;
    sleeps += u1.sleeps - u0.sleeps;
    wall += std::chrono::duration<double>(t1 - t0).count();
  }
  const batch_stats after = stats();

  std::uint64_t failed = 0;
  for (auto& s : slots) failed += s.failed.load();
  if (failed != 0) fail(state, "requests failed (queue_full?): the benchmark is not measuring the hot path");

  const double requests = static_cast<double>(items);
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["allocs_per_request"] = static_cast<double>(news) / requests;
#if defined(BENCH_COUNT_MALLOC)
  state.counters["heap_allocs_per_request"] = static_cast<double>(mallocs) / requests;
#endif
  const double batches = static_cast<double>(after.batches - before.batches);
  state.counters["mean_batch"] = batches > 0 ? requests / batches : 0.0;
  state.counters["wakeups_per_batch"] = batches > 0 ? static_cast<double>(after.wakeups - before.wakeups) / batches : 0.0;
  // Diagnostics: cores busy on average (2 = CPU-bound on this machine), and blocking sleeps of any thread.
  state.counters["cpu_busy"] = wall > 0 ? cpu / wall : 0.0;
  state.counters["sleeps_per_batch"] = batches > 0 ? sleeps / batches : 0.0;
}

// ---- powerbatch harness -----------------------------------------------------------------------------------------

// An io_context run by one thread: powerbatch's dispatcher, backend and callbacks all run there.
class io_thread {
 public:
  io_thread() : guard_(asio::make_work_guard(ioc_)), thread_([this] { run(); }) {
    while (tid_.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  }
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;
  ~io_thread() {
    guard_.reset();
    thread_.join();
  }
  asio::io_context& context() noexcept { return ioc_; }
  long tid() const noexcept { return tid_.load(std::memory_order_acquire); }

 private:
  void run() {
#if defined(__linux__)
    tid_.store(static_cast<long>(::gettid()), std::memory_order_release);
#else
    tid_.store(1, std::memory_order_release);
#endif
    ioc_.run();
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::atomic<long> tid_{0};
  std::thread thread_;
};

using noop_backend = pb::backend::function<int, int, noop_batch>;

template <class Queue>
using queue_batcher = pb::Batcher<Queue, pb::default_timeout, pb::default_priority, noop_backend>;

template <class BatcherType>
typename BatcherType::config hot_path_config(pb::admission_mode admission = pb::admission_mode::shared_count) {
  typename BatcherType::config cfg;
  cfg.admission = admission;
  cfg.queue_capacity = powerbatch_capacity;
  cfg.timeout.max_batch_size = max_batch_size;
  cfg.timeout.max_delay = max_delay;
  return cfg;
}

// WithTimeout: every request carries a 1 s timeout (none expires), which takes the producer path that must let the
// dispatcher see the request's deadline. Counter grouped_admission: 1 where the batcher admits by per-group credits.
template <class BatcherType, bool WithTimeout = false, pb::admission_mode Admission = pb::admission_mode::shared_count>
void bm_powerbatch_hot_path(benchmark::State& state, int producers) {
  io_thread io;
  pb::request_options options;
  if constexpr (WithTimeout) options.timeout = std::chrono::seconds(1);
  {
    BatcherType batcher(io.context().get_executor(), noop_backend(noop_batch{}),
                        hot_path_config<BatcherType>(Admission));
    state.counters["grouped_admission"] = batcher.stats().grouped_admission ? 1 : 0;
    run_hot_path(
        state, producers,
        [&batcher, &options](int value, count_completion done) { batcher.async_submit(value, options, done); },
        [&batcher] {
          const pb::batcher_stats s = batcher.stats();
          return batch_stats{s.batches, s.dispatcher_wakeups};
        });
    batcher.shutdown(pb::shutdown_mode::drain);
  }
}

// ---- reference harness ------------------------------------------------------------------------------------------

reference::reference_params reference_hot_path_params() {
  reference::reference_params params;
  params.max_batch_size = max_batch_size;
  params.max_delay = max_delay;
  params.reserve = static_cast<std::size_t>(window) * 2 + max_batch_size;
  return params;
}

template <class ReferenceType>
void bm_reference_hot_path(benchmark::State& state, int producers) {
  ReferenceType batcher(noop_batch{}, reference_hot_path_params());
  run_hot_path(
      state, producers, [&batcher](int value, count_completion done) { batcher.submit(value, done); },
      [&batcher] { return batch_stats{batcher.batches(), batcher.waits()}; });
}

using reference_fifo = reference::mutex_condvar_batcher<int, int, noop_batch>;
using reference_std_deque = reference::mutex_condvar_batcher<int, int, noop_batch, reference::reference_std_deque>;
using reference_batch_swap = reference::batch_swap_batcher<int, int, noop_batch>;

// ---- ceiling: no batcher at all ----------------------------------------------------------------------------------

// Not a batcher (no delay, no admission, no wake discipline): producers enqueue into one moodycamel queue and a
// consumer thread busy-polls it (yielding, never sleeping), runs the backend on up to max_batch_size requests and
// calls the callbacks. An upper bound for any batcher with this queue and these threads on this machine.
void bm_ceiling_hot_path(benchmark::State& state, int producers) {
  struct item {
    int input = 0;
    count_completion done{nullptr};
    bench_clock::time_point arrival{};
  };
  moodycamel::ConcurrentQueue<item> queue(powerbatch_capacity);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> batches{0};
  std::thread consumer([&] {
    std::array<item, max_batch_size> taken;
    std::array<int, max_batch_size> in{}, out{};
    while (!stop.load(std::memory_order_relaxed)) {
      const std::size_t n = queue.try_dequeue_bulk(taken.data(), taken.size());
      if (n == 0) {
        std::this_thread::yield();
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) in[i] = taken[i].input;
      noop_batch{}(std::span<int>(in.data(), n), std::span<int>(out.data(), n));
      for (std::size_t i = 0; i < n; ++i) taken[i].done(std::error_code{}, out[i]);
      batches.store(batches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  });
  run_hot_path(
      state, producers,
      [&queue](int value, count_completion done) { queue.enqueue(item{value, done, bench_clock::now()}); },
      [&batches] { return batch_stats{batches.load(std::memory_order_relaxed), 0}; });
  stop = true;
  consumer.join();
}

// The other ceiling: the leanest hand-off there is. Each producer owns a single-producer single-consumer ring of
// 16-byte items (input and callback, no arrival time) with cached indices, so a push writes a quarter of a line
// and touches the shared index line only when its cached copy runs out; one consumer thread busy-polls every ring,
// runs the backend on up to max_batch_size of a ring's items and calls the callbacks. No admission, no wake-up,
// no timer, no priorities: any one-consumer batcher here, whatever its queue, moves fewer requests per second.
template <class T, std::size_t Capacity>
class spsc_ring {
  static_assert((Capacity & (Capacity - 1)) == 0, "a power of two");

 public:
  void push(const T& item) noexcept {  // producer; spins while full (never, with Capacity > window)
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    while (tail - cached_head_ == Capacity) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ == Capacity) std::this_thread::yield();
    }
    slots_[tail & (Capacity - 1)] = item;
    tail_.store(tail + 1, std::memory_order_release);
  }
  std::size_t pop_bulk(T* out, std::size_t max) noexcept {  // consumer
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == cached_tail_) cached_tail_ = tail_.load(std::memory_order_acquire);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(cached_tail_ - head, max));
    for (std::size_t i = 0; i < n; ++i) out[i] = slots_[(head + i) & (Capacity - 1)];
    if (n) head_.store(head + n, std::memory_order_release);
    return n;
  }

 private:
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;  // consumer's copy of tail_
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t cached_head_ = 0;  // producer's copy of head_
  alignas(64) std::array<T, Capacity> slots_{};
};

void bm_ceiling_spsc_hot_path(benchmark::State& state, int producers) {
  struct item {
    int input = 0;
    count_completion done{nullptr};
  };
  static_assert(sizeof(item) == 16);
  using ring_type = spsc_ring<item, 4096>;
  static_assert(4096 > window, "a ring holds a producer's whole window");
  auto rings = std::make_unique<std::array<ring_type, 2>>();
  // A producer finds its ring by its completion slot (the harness gives each producer its own).
  alignas(64) std::array<producer_slot*, 2> owners{};  // read-only once claimed, on a line of its own
  std::atomic<int> claimed{0};
  auto ring_of = [&](producer_slot* slot) -> ring_type& {
    for (int r = 0; r < claimed.load(std::memory_order_acquire); ++r)
      if (owners[static_cast<std::size_t>(r)] == slot) return (*rings)[static_cast<std::size_t>(r)];
    static std::mutex claim_mutex;
    std::lock_guard lock(claim_mutex);
    const int r = claimed.load(std::memory_order_relaxed);
    owners[static_cast<std::size_t>(r)] = slot;
    claimed.store(r + 1, std::memory_order_release);
    return (*rings)[static_cast<std::size_t>(r)];
  };
  alignas(64) std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> batches{0};
  std::thread consumer([&] {
    std::array<item, max_batch_size> taken;
    std::array<int, max_batch_size> in{}, out{};
    while (!stop.load(std::memory_order_relaxed)) {
      bool any = false;
      for (auto& ring : *rings) {
        const std::size_t n = ring.pop_bulk(taken.data(), taken.size());
        if (n == 0) continue;
        any = true;
        for (std::size_t i = 0; i < n; ++i) in[i] = taken[i].input;
        noop_batch{}(std::span<int>(in.data(), n), std::span<int>(out.data(), n));
        for (std::size_t i = 0; i < n; ++i) taken[i].done(std::error_code{}, out[i]);
        batches.store(batches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
      if (!any) std::this_thread::yield();
    }
  });
  run_hot_path(
      state, producers, [&](int value, count_completion done) { ring_of(done.slot).push(item{value, done}); },
      [&batches] { return batch_stats{batches.load(std::memory_order_relaxed), 0}; });
  stop = true;
  consumer.join();
}

// The item a ceiling hands over: powerbatch's own request (arrival time, type-erased completion, 112 bytes), or a
// bare 16-byte one (input and callback) that shows what the request's weight costs.
struct bare_item {
  int input = 0;
  count_completion done{nullptr};
};

// How a ceiling's producer stamps the request's arrival: not at all; as Batcher does (the CPU counter once
// counter_arrivals is calibrated, else steady_clock); or as Batcher's grouped admission does, with the counter's
// ordered read (counter_order::read, rdtscp) that also gives arrival order across producers.
enum class arrival_stamps { none, as_batcher, ordered };

// Whether a ceiling's producers also count each request in one atomic word that every producer adds to and the
// consumer takes back from once a batch, as Batcher's admission does (batcher_core::admitted_): what that shared
// read-modify-write costs on its own.
enum class admission_count { none, shared };

// What a process's first batcher and its dispatchers do in their first 20 ms: calibrate the counter, so that a
// ceiling without a batcher stamps as one would. (Bounded: a CPU without an invariant counter never calibrates.)
void calibrate_counter_arrivals() {
  using pb::detail::counter_arrivals;
  for (int attempt = 0; attempt < 10 && !counter_arrivals::calibrated(); ++attempt) {
    counter_arrivals::observe(bench_clock::now());
    std::this_thread::sleep_for(counter_arrivals::calibration_span);
  }
}

// powerbatch's own parts without its dispatcher: the request Batcher::async_submit makes (with or without its
// arrival stamp), queue::sharded_ring, and batches formed straight from the queue, with no admission, wake-up,
// timer, lanes, priorities or ordering across producers. What a batcher built from these parts could move if its
// dispatcher did nothing else.
template <class Item, arrival_stamps Stamps, admission_count Admission = admission_count::none>
class direct_batching {
 public:
  using completion_type = decltype(Item::done);

  direct_batching() {
    if constexpr (Stamps != arrival_stamps::none) calibrate_counter_arrivals();
  }

  // The consumer's reusable batch.
  struct batch {
    batch() {
      inputs.reserve(max_batch_size);
      completions.reserve(max_batch_size);
    }
    std::vector<int> inputs, outputs = std::vector<int>(max_batch_size);
    std::vector<completion_type> completions;
  };

  // Any thread.
  void submit(int value, count_completion done) {
    Item r;
    r.input = value;
    if constexpr (std::is_same_v<Item, bare_item>) {
      r.done = done;
    } else {
      if constexpr (Stamps != arrival_stamps::none) {
        if (pb::detail::counter_arrivals::calibrated()) {
          const std::uint64_t count = Stamps == arrival_stamps::ordered ? pb::detail::counter_order::read()
                                                                         : pb::detail::counter_arrivals::read();
          r.arrival = bench_clock::time_point(bench_clock::duration(static_cast<bench_clock::rep>(count)));
          r.counter_stamped = true;
        } else {
          r.arrival = bench_clock::now();
        }
      }
      r.done.emplace(done, nullptr, nullptr, nullptr);
    }
    if constexpr (Admission == admission_count::shared) admitted_.fetch_add(1, std::memory_order_seq_cst);
    if (!queue_.try_push(std::move(r))) std::abort();  // holds both producers' windows: never full
  }

  // One consumer thread: forms, runs and completes a batch of up to max_batch_size; returns its size.
  std::size_t run_one_batch(batch& b) {
    b.inputs.clear();
    b.completions.clear();
    const std::size_t n = queue_.try_pop_bulk(inserter{&b}, max_batch_size);
    if (n == 0) return 0;
    if constexpr (Admission == admission_count::shared) admitted_.fetch_sub(n, std::memory_order_seq_cst);
    noop_batch{}(std::span<int>(b.inputs.data(), n), std::span<int>(b.outputs.data(), n));
    for (std::size_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<Item, bare_item>)
        b.completions[i](std::error_code{}, b.outputs[i]);
      else
        b.completions[i].complete({}, std::move(b.outputs[i]), {}, nullptr);
    }
    return n;
  }

 private:
  // An output iterator for try_pop_bulk that moves each item's input and completion into the batch.
  struct inserter {
    using iterator_category = std::output_iterator_tag;
    using value_type = void;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = void;
    batch* b;
    inserter& operator*() noexcept { return *this; }
    inserter& operator++() noexcept { return *this; }
    inserter operator++(int) noexcept { return *this; }
    inserter& operator=(Item&& r) {
      b->inputs.push_back(r.input);
      b->completions.push_back(std::move(r.done));
      return *this;
    }
  };

  typename pb::queue::sharded_ring<>::template queue<Item> queue_{powerbatch_capacity};
  alignas(64) std::atomic<std::uint64_t> admitted_{0};  // last, on a line of its own
};

using our_parts = direct_batching<pb::detail::request<int, int>, arrival_stamps::as_batcher>;

// direct_batching with a consumer thread that busy-polls the queue (yielding when it is empty).
template <class Parts>
void bm_ceiling_sharded_ring_hot_path(benchmark::State& state, int producers) {
  auto parts = std::make_unique<Parts>();
  alignas(64) std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> batches{0};
  std::thread consumer([&] {
    typename Parts::batch b;
    while (!stop.load(std::memory_order_relaxed)) {
      if (parts->run_one_batch(b) == 0) {
        std::this_thread::yield();
        continue;
      }
      batches.store(batches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  });
  run_hot_path(
      state, producers, [&parts](int value, count_completion done) { parts->submit(value, done); },
      [&batches] { return batch_stats{batches.load(std::memory_order_relaxed), 0}; });
  stop = true;
  consumer.join();
}

// ---- hot path, interleaved: ratios on a machine whose speed drifts ----------------------------------------------

// One batcher's share of an interleaved run: its own producers, which submit `per_producer_slice` requests each per
// slice (four hot_path iterations: on the 2-core VM, slices of one iteration, 10-25 ms, gave quartiles of the
// ratios several times as far apart).
template <class Submit>
class hot_path_slices {
 public:
  hot_path_slices(int producers, Submit submit) : team_(producers), producers_(producers), submit_(std::move(submit)) {
    run(per_producer_warmup);
  }

  // One slice: items per second.
  double run_slice() {
    const auto t0 = bench_clock::now();
    run(per_producer_slice);
    const double seconds = std::chrono::duration<double>(bench_clock::now() - t0).count();
    return static_cast<double>(per_producer_slice) * producers_ / seconds;
  }

  std::uint64_t failed() const {
    std::uint64_t n = 0;
    for (const auto& s : slots_) n += s.failed.load();
    return n;
  }

 private:
  void run(std::uint64_t per_producer) {
    auto work = [&](int p) { produce(submit_, slots_[static_cast<std::size_t>(p)], per_producer); };
    team_.run(work);
  }

  producer_team team_;
  int producers_;
  Submit submit_;
  std::array<producer_slot, 2> slots_;
};

// The q-quantile of sorted, non-empty values (the element at rank q * n).
double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

// The reference, powerbatch_default and powerbatch_grouped_admission take turns: each round runs one slice of each
// (in a rotating order), all three built once and alive throughout; an idle batcher wakes nothing, so it does not
// disturb the others' slices. A round's ratios then come from slices tens of milliseconds apart, where separate
// hot_path runs are seconds apart: this project's 2-core VM has moved the same build at 7 M and at 21 M items/s
// from one run to the next, and two runs can land in different phases.
// Counters: each ratio's median over the rounds, with its 25th and 75th percentiles (_p25, _p75), and each
// batcher's median items/s.
void bm_hot_path_interleaved(benchmark::State& state) {
  constexpr int producers = 2, rounds = 12;
  using batcher_type = pb::default_batcher<noop_backend>;
  const pb::request_options options;
  reference_fifo reference(noop_batch{}, reference_hot_path_params());
  io_thread io_default, io_grouped;
  batcher_type shared(io_default.context().get_executor(), noop_backend(noop_batch{}),
                      hot_path_config<batcher_type>(pb::admission_mode::shared_count));
  batcher_type grouped(io_grouped.context().get_executor(), noop_backend(noop_batch{}),
                       hot_path_config<batcher_type>(pb::admission_mode::grouped));
  state.counters["grouped_admission"] = grouped.stats().grouped_admission ? 1 : 0;
  {
    hot_path_slices reference_slices(
        producers, [&reference](int value, count_completion done) { reference.submit(value, done); });
    hot_path_slices default_slices(producers, [&shared, &options](int value, count_completion done) {
      shared.async_submit(value, options, done);
    });
    hot_path_slices grouped_slices(producers, [&grouped, &options](int value, count_completion done) {
      grouped.async_submit(value, options, done);
    });
    std::array<std::vector<double>, 3> rates;  // reference, default, grouped; one entry a round
    for (auto _ : state) {
      for (int round = 0; round < rounds; ++round) {
        for (int k = 0; k < 3; ++k) {
          const int which = (round + k) % 3;
          const double rate = which == 0   ? reference_slices.run_slice()
                              : which == 1 ? default_slices.run_slice()
                                           : grouped_slices.run_slice();
          rates[static_cast<std::size_t>(which)].push_back(rate);
        }
      }
    }
    if (reference_slices.failed() + default_slices.failed() + grouped_slices.failed() != 0)
      fail(state, "requests failed (queue_full?): the benchmark is not measuring the hot path");
    auto report_ratio = [&](const std::string& name, std::size_t over, std::size_t under) {
      std::vector<double> ratios(rates[over].size());
      for (std::size_t i = 0; i < ratios.size(); ++i) ratios[i] = rates[over][i] / rates[under][i];
      std::sort(ratios.begin(), ratios.end());
      state.counters[name] = quantile_of_sorted(ratios, 0.5);
      state.counters[name + "_p25"] = quantile_of_sorted(ratios, 0.25);
      state.counters[name + "_p75"] = quantile_of_sorted(ratios, 0.75);
    };
    report_ratio("default_over_reference", 1, 0);
    report_ratio("grouped_over_reference", 2, 0);
    report_ratio("grouped_over_default", 2, 1);
    for (auto& r : rates) std::sort(r.begin(), r.end());
    state.counters["reference_items_per_second"] = quantile_of_sorted(rates[0], 0.5);
    state.counters["default_items_per_second"] = quantile_of_sorted(rates[1], 0.5);
    state.counters["grouped_items_per_second"] = quantile_of_sorted(rates[2], 0.5);
  }
  shared.shutdown(pb::shutdown_mode::drain);
  grouped.shutdown(pb::shutdown_mode::drain);
}

// ---- dispatch cost: each side's work per request, on one thread --------------------------------------------------

// The calling thread submits a chunk of requests (the producer side), then does everything up to their completions
// (the dispatcher side: for powerbatch, running the io_context: drain, file, decide, launch, backend, callbacks).
// No other thread runs, so no cache line moves between cores: this is the work each side does, not what it waits
// for on a real machine (see hot_path). Being single-threaded it is steadier than hot_path on a shared machine,
// and under callgrind (valgrind --tool=callgrind ./bench_batcher --benchmark_filter=dispatch_cost
// --benchmark_min_time=0.2) it gives instruction counts per function that no other load can move.
// Counters: producer_ns and dispatcher_ns per request; allocs_per_request.
template <class Submit, class CompleteAll>
void run_dispatch_cost(benchmark::State& state, Submit submit, CompleteAll complete_all) {
  constexpr std::uint64_t chunk = 4096;  // whole batches, and within the batcher's capacity
  static_assert(chunk % max_batch_size == 0 && chunk <= powerbatch_capacity);
  producer_slot slot;
  double producer_s = 0, dispatcher_s = 0;
  auto one_chunk = [&] {
    const auto t0 = bench_clock::now();
    for (std::uint64_t i = 0; i < chunk; ++i) submit(static_cast<int>(i), count_completion{&slot});
    slot.submitted += chunk;
    const auto t1 = bench_clock::now();
    complete_all(slot);
    const auto t2 = bench_clock::now();
    producer_s += std::chrono::duration<double>(t1 - t0).count();
    dispatcher_s += std::chrono::duration<double>(t2 - t1).count();
  };
  for (int i = 0; i < 8; ++i) one_chunk();  // warm-up: slab, rings, lanes and vectors reach their steady size
  producer_s = dispatcher_s = 0;
  std::uint64_t requests = 0;
  const std::uint64_t n0 = alloc_count::news.load(std::memory_order_relaxed);
  for (auto _ : state) {
    one_chunk();
    requests += chunk;
  }
  const std::uint64_t news = alloc_count::news.load(std::memory_order_relaxed) - n0;
  if (slot.failed.load() != 0 || slot.completed.load() != slot.submitted)
    fail(state, "requests failed or did not complete: the benchmark is not measuring the hot path");
  const double n = static_cast<double>(requests);
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
  state.counters["producer_ns"] = producer_s * 1e9 / n;
  state.counters["dispatcher_ns"] = dispatcher_s * 1e9 / n;
  state.counters["allocs_per_request"] = static_cast<double>(news) / n;
}

template <bool WithTimeout, pb::admission_mode Admission = pb::admission_mode::shared_count>
void bm_powerbatch_dispatch_cost(benchmark::State& state) {
  using batcher_type = pb::default_batcher<noop_backend>;
  asio::io_context ioc;  // run by this thread only, between chunks
  batcher_type batcher(ioc.get_executor(), noop_backend(noop_batch{}), hot_path_config<batcher_type>(Admission));
  pb::request_options options;
  if (WithTimeout) options.with_timeout(std::chrono::seconds(1));  // as hot_path_timeout: none expires
  run_dispatch_cost(
      state, [&](int value, count_completion done) { batcher.async_submit(value, options, done); },
      [&ioc](producer_slot& slot) {
        while (slot.completed.load(std::memory_order_relaxed) != slot.submitted) {
          if (ioc.stopped()) ioc.restart();
          ioc.run_one();
        }
      });
  batcher.async_shutdown(pb::shutdown_mode::drain, [] {});
  ioc.restart();
  ioc.run();
}

void bm_ceiling_sharded_ring_dispatch_cost(benchmark::State& state) {
  auto parts = std::make_unique<our_parts>();
  our_parts::batch b;
  run_dispatch_cost(
      state, [&parts](int value, count_completion done) { parts->submit(value, done); },
      [&parts, &b](producer_slot&) {
        while (parts->run_one_batch(b) != 0) {
        }
      });
}

// ---- flush timing -----------------------------------------------------------------------------------------------

// Records when the backend starts each batch.
struct stamping_batch {
  std::atomic<std::int64_t>* started;
  void operator()(std::span<int> in, std::span<int> out) const noexcept {
    started->store(bench_clock::now().time_since_epoch().count(), std::memory_order_release);
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i];
  }
};

// submit(int, handler) with handler(std::error_code, int); each sample submits one request and waits for it.
template <class Submit>
void run_flush_timing(benchmark::State& state, std::atomic<std::int64_t>& started, Submit submit) {
  struct done_flag {
    std::atomic<std::uint32_t>* flag;
    void operator()(std::error_code, int) const noexcept {
      flag->store(1, std::memory_order_release);
      flag->notify_one();
    }
  };
  std::atomic<std::uint32_t> done{0};
  auto one = [&](int value) -> double {
    done.store(0, std::memory_order_relaxed);
    const auto submitted = bench_clock::now();
    submit(value, done_flag{&done});
    done.wait(0, std::memory_order_acquire);
    const auto ran = bench_clock::time_point(bench_clock::duration(started.load(std::memory_order_acquire)));
    return std::chrono::duration<double, std::micro>(ran - submitted - max_delay).count();
  };
  for (int i = 0; i < 20; ++i) one(i);  // warm-up

  std::vector<double> late;
  late.reserve(flush_samples);
  for (auto _ : state)
    for (int i = 0; i < flush_samples; ++i) late.push_back(one(i));
  std::sort(late.begin(), late.end());
  state.counters["late_us_p50"] = quantile_of_sorted(late, 0.50);
  state.counters["late_us_p99"] = quantile_of_sorted(late, 0.99);
  state.counters["late_us_max"] = late.back();
  state.counters["early_us_max"] = late.front() < 0 ? -late.front() : 0.0;  // flushed before max_delay (a bug)
}

// How early the timer fires for the dispatcher to wait out the rest busily: config timer_lead (zero by default), and
// whether the batcher learns a lead (by default it does; max_learned_timer_lead = 0 turns that off).
struct lead_setting {
  pb::duration timer_lead = pb::duration::zero();
  bool learns = true;
};

void bm_powerbatch_flush_timing(benchmark::State& state, lead_setting lead) {
  using backend_type = pb::backend::function<int, int, stamping_batch>;
  using batcher_type = pb::default_batcher<backend_type>;
  std::atomic<std::int64_t> started{0};
  io_thread io;
  batcher_type::config cfg;
  cfg.timeout.max_batch_size = 1024;
  cfg.timeout.max_delay = max_delay;
  cfg.timer_lead = lead.timer_lead;
  if (!lead.learns) cfg.max_learned_timer_lead = pb::duration::zero();
  {
    batcher_type batcher(io.context().get_executor(), backend_type(stamping_batch{&started}), cfg);
    run_flush_timing(state, started, [&batcher](int value, auto handler) {
      batcher.async_submit(value, pb::request_options{}, std::move(handler));
    });
    batcher.shutdown(pb::shutdown_mode::drain);
    const pb::batcher_stats s = batcher.stats();
    // The CPU the lead costs: busy-wait time per delay flush, and the share of flushes that waited busily.
    const double flushes = static_cast<double>(std::max<std::uint64_t>(1, s.batches));
    state.counters["busy_wait_us_per_flush"] =
        std::chrono::duration<double, std::micro>(s.busy_wait_time).count() / flushes;
    state.counters["busy_waited_share"] = static_cast<double>(s.busy_waits) / flushes;
    state.counters["timer_lead_us"] = std::chrono::duration<double, std::micro>(s.timer_lead).count();
  }
}

// The floor under any Asio-based batcher: a request is "submitted" by posting to the io_context from this thread
// (waking it), which arms a steady_timer for submit + max_delay; lateness is measured when its handler runs.
void bm_asio_timer_flush_timing(benchmark::State& state) {
  std::atomic<std::int64_t> started{0};
  io_thread io;
  asio::steady_timer timer(io.context());
  run_flush_timing(state, started, [&](int value, auto handler) {
    const auto deadline = bench_clock::now() + max_delay;
    asio::post(io.context(), [&timer, &started, deadline, value, handler]() mutable {
      timer.expires_at(deadline);
      timer.async_wait([&started, value, handler](boost::system::error_code) mutable {
        started.store(bench_clock::now().time_since_epoch().count(), std::memory_order_release);
        handler(std::error_code{}, value);
      });
    });
  });
}

void bm_reference_flush_timing(benchmark::State& state) {
  std::atomic<std::int64_t> started{0};
  reference::reference_params params;
  params.max_batch_size = 1024;
  params.max_delay = max_delay;
  reference::mutex_condvar_batcher<int, int, stamping_batch> batcher(stamping_batch{&started}, params);
  run_flush_timing(state, started,
                   [&batcher](int value, auto handler) { batcher.submit(value, std::move(handler)); });
}

// ---- idle -------------------------------------------------------------------------------------------------------

// Voluntary context switches of thread `tid` of this process, read from outside (no wake of that thread).
long voluntary_switches(long tid) {
#if defined(__linux__)
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
  std::FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char line[256];
  long value = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "voluntary_ctxt_switches:", 24) == 0) value = std::strtol(line + 24, nullptr, 10);
  std::fclose(f);
  return value;
#else
  (void)tid;
  return -1;
#endif
}

void bm_powerbatch_idle(benchmark::State& state) {
  io_thread io;
  pb::default_batcher<noop_backend>::config cfg;
  cfg.timeout.max_batch_size = max_batch_size;
  cfg.timeout.max_delay = max_delay;
  pb::default_batcher<noop_backend> batcher(io.context().get_executor(), noop_backend(noop_batch{}), cfg);

  // Warm up, then let every timer that could still be armed (max_delay) run out.
  producer_slot slot;
  for (int i = 0; i < 100; ++i) batcher.async_submit(i, pb::request_options{}, count_completion{&slot});
  while (slot.completed.load(std::memory_order_acquire) != 100) std::this_thread::sleep_for(std::chrono::microseconds(100));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  const long first = voluntary_switches(io.tid());
  if (first < 0) {
    fail(state, "cannot read /proc/self/task/<tid>/status");
    return;
  }
  const pb::batcher_stats s0 = batcher.stats();
  double switches = 0, seconds = 0;
  for (auto _ : state) {
    const long v0 = voluntary_switches(io.tid());
    const auto t0 = bench_clock::now();
    std::this_thread::sleep_for(idle_time);
    const long v1 = voluntary_switches(io.tid());
    seconds += std::chrono::duration<double>(bench_clock::now() - t0).count();
    switches += static_cast<double>(v1 - v0);
  }
  const pb::batcher_stats s1 = batcher.stats();
  state.counters["wakeups_per_second"] = switches / seconds;
  state.counters["dispatcher_runs"] = static_cast<double>(s1.dispatcher_wakeups - s0.dispatcher_wakeups);
  state.counters["timer_fires"] = static_cast<double>(s1.timer_fires - s0.timer_fires);
  batcher.shutdown(pb::shutdown_mode::drain);
}

void register_all() {
  auto hot = [](const char* name, auto fn, int producers) {
    benchmark::RegisterBenchmark(name, fn, producers)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  hot("powerbatch_default/hot_path", bm_powerbatch_hot_path<pb::default_batcher<noop_backend>>, 2);
  hot("reference_mutex_condvar/hot_path", bm_reference_hot_path<reference_fifo>, 2);
  hot("powerbatch_default/hot_path_timeout", bm_powerbatch_hot_path<pb::default_batcher<noop_backend>, true>, 2);
  hot("powerbatch_grouped_admission/hot_path",
      bm_powerbatch_hot_path<pb::default_batcher<noop_backend>, false, pb::admission_mode::grouped>, 2);
  hot("reference_mutex_condvar_batch_swap/hot_path", bm_reference_hot_path<reference_batch_swap>, 2);
  hot("reference_mutex_condvar_std_deque/hot_path", bm_reference_hot_path<reference_std_deque>, 2);
  hot("powerbatch_mutex_deque/hot_path", bm_powerbatch_hot_path<queue_batcher<pb::queue::mutex_deque>>, 2);
  hot("powerbatch_boost_lockfree/hot_path", bm_powerbatch_hot_path<queue_batcher<pb::queue::boost_lockfree>>, 2);
  hot("powerbatch_moodycamel/hot_path", bm_powerbatch_hot_path<queue_batcher<pb::queue::moodycamel>>, 2);
  hot("ceiling_moodycamel_spin/hot_path", bm_ceiling_hot_path, 2);
  hot("ceiling_spsc_rings/hot_path", bm_ceiling_spsc_hot_path, 2);
  hot("ceiling_sharded_ring/hot_path", bm_ceiling_sharded_ring_hot_path<our_parts>, 2);
  hot("ceiling_sharded_ring_shared_admission/hot_path",
      bm_ceiling_sharded_ring_hot_path<
          direct_batching<pb::detail::request<int, int>, arrival_stamps::as_batcher, admission_count::shared>>,
      2);
  hot("ceiling_sharded_ring_ordered_stamp/hot_path",
      bm_ceiling_sharded_ring_hot_path<direct_batching<pb::detail::request<int, int>, arrival_stamps::ordered>>, 2);
  hot("ceiling_sharded_ring_no_clock/hot_path",
      bm_ceiling_sharded_ring_hot_path<direct_batching<pb::detail::request<int, int>, arrival_stamps::none>>, 2);
  hot("ceiling_sharded_ring_bare_items/hot_path",
      bm_ceiling_sharded_ring_hot_path<direct_batching<bare_item, arrival_stamps::none>>, 2);
  benchmark::RegisterBenchmark("powerbatch_default/dispatch_cost", bm_powerbatch_dispatch_cost<false>)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("powerbatch_grouped_admission/dispatch_cost",
                               bm_powerbatch_dispatch_cost<false, pb::admission_mode::grouped>)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ceiling_sharded_ring/dispatch_cost", bm_ceiling_sharded_ring_dispatch_cost)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("powerbatch_default/dispatch_cost_timeout", bm_powerbatch_dispatch_cost<true>)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("interleaved/hot_path_ratios", bm_hot_path_interleaved)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  hot("powerbatch_default/hot_path_1producer", bm_powerbatch_hot_path<pb::default_batcher<noop_backend>>, 1);
  hot("reference_mutex_condvar/hot_path_1producer", bm_reference_hot_path<reference_fifo>, 1);
  hot("reference_mutex_condvar_batch_swap/hot_path_1producer", bm_reference_hot_path<reference_batch_swap>, 1);
  hot("powerbatch_boost_spsc/hot_path_1producer", bm_powerbatch_hot_path<queue_batcher<pb::queue::boost_spsc>>, 1);

  benchmark::RegisterBenchmark("powerbatch_default/flush_timing", bm_powerbatch_flush_timing, lead_setting{})
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("powerbatch_no_lead/flush_timing", bm_powerbatch_flush_timing,
                               lead_setting{.learns = false})
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("powerbatch_timer_lead_100us/flush_timing", bm_powerbatch_flush_timing,
                               lead_setting{.timer_lead = std::chrono::microseconds(100)})
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("reference_mutex_condvar/flush_timing", bm_reference_flush_timing)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("floor_asio_steady_timer/flush_timing", bm_asio_timer_flush_timing)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("powerbatch_default/idle", bm_powerbatch_idle)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  // Measure each hot path for 1 s unless told otherwise (Google Benchmark's default is 0.5 s); the whole run then
  // takes about 40 s. --benchmark_min_time=... overrides it (the smoke test uses 0.01).
  std::vector<char*> args(argv, argv + argc);
  bool has_min_time = false;
  for (char* a : args) has_min_time = has_min_time || std::strncmp(a, "--benchmark_min_time", 20) == 0;
  static char default_min_time[] = "--benchmark_min_time=1";
  if (!has_min_time) args.push_back(default_min_time);
  int count = static_cast<int>(args.size());
  args.push_back(nullptr);
  // The console output ends with each variant's ratio to its baseline, measured in this run.
  std::vector<bench::ratio_rule> ratios{{"hot_path", "reference_mutex_condvar", "items_per_second"},
                                        {"hot_path_1producer", "reference_mutex_condvar", "items_per_second"},
                                        {"flush_timing", "reference_mutex_condvar", "late_us_p99"},
                                        {"flush_timing", "floor_asio_steady_timer", "late_us_p99"},
                                        {"dispatch_cost", "ceiling_sharded_ring", "dispatcher_ns"},
                                        {"dispatch_cost", "ceiling_sharded_ring", "producer_ns"}};
  const auto reporter = bench::make_ratio_reporter(count, args.data(), std::move(ratios));
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks(reporter.get());
  benchmark::Shutdown();
  return any_failed ? 1 : 0;
}
