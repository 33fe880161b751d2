// Stress: every submitted request completes exactly once, whatever happens to it.
//
// 4 producer threads submit requests with random priorities (0..2), deadlines (none, already past, short, long),
// batching keys (0..7), handlers (plain callbacks, or bound to a strand with a cancellation slot) and
// cancellations (~2 %), to a batcher whose backend throws on ~1 % of batches; a fifth thread shuts the batcher down
// (cancel or drain) while the producers are still submitting. Each request's completion is counted in its own
// atomic: at the end no id may be missing and none may have completed twice, the error codes must be ones the
// request could get, and the batcher's own counters must agree with what the handlers saw.
//
// Every wait is bounded: a lost completion or a hang becomes a test failure with the missing ids and the batcher's
// counters, not a CI timeout.
//
// Size: 4 x 250 000 requests per default-batcher run in the normal and the ASan+UBSan builds (the figure);
// a ThreadSanitizer build runs a quarter of that so that CI stays within budget on 2 cores (requests_per_producer()).
// Environment: POWERBATCH_STRESS_REQUESTS (per producer), POWERBATCH_STRESS_SEED (the random choices of every
// request derive from it; thread timing does not) and POWERBATCH_STRESS_BUDGET_S (the bounded wait, 120 s).
#include <powerbatch/powerbatch.hpp>

#include <catch2/catch.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

#if defined(STRESS_TSAN)
// Boost.Lockfree's stack and queue (behind queue::boost_lockfree) read a node's `next` while another thread may be
// recycling that node, relying on the tagged compare-exchange that follows to discard the stale read. TSan reports
// it as a data race inside boost::lockfree; it is a known, open upstream report (boostorg/lockfree issues 22 and
// 78), not a powerbatch race. Only frames inside boost::lockfree:: are suppressed — powerbatch's own code around the
// queue (powerbatch::queue::boost_lockfree, the slot array it hands over) stays checked.
extern "C" const char* __tsan_default_suppressions() { return "race:boost::lockfree::\n"; }
#endif

namespace {

namespace pb = powerbatch;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// ---- sizes and seeds ----------------------------------------------------------------------------------------------

constexpr std::size_t producer_count = 4;

std::size_t env_size(const char* name, std::size_t fallback) {
  if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return std::strtoull(v, nullptr, 10);
  return fallback;
}

// Requests per producer for a run whose normal-build size is `normal` (4 x 250 000 for the default batcher).
// ThreadSanitizer makes this workload ~5-10x slower on 2 cores, so a TSan build runs a quarter of it (still
// 4 x 62 500 per default-batcher run, every path above); ASan+UBSan (~2x) runs the full size.
// POWERBATCH_STRESS_REQUESTS=<per producer> overrides either, scaling the smaller runs alike.
std::size_t requests_per_producer(std::size_t normal) {
#if defined(STRESS_TSAN)
  const std::size_t scaled = normal / 4;
#else
  const std::size_t scaled = normal;
#endif
  const std::size_t full = env_size("POWERBATCH_STRESS_REQUESTS", 0);
  if (full == 0) return scaled;
  return std::max<std::size_t>(1, full * normal / 250'000);  // scales the smaller runs alike
}

std::uint64_t base_seed() {
  static const std::uint64_t seed = env_size("POWERBATCH_STRESS_SEED", 0x5eed'ba7c'4e11'0001ull);
  return seed;
}

// How long a run may take before the missing completions are reported as lost.
std::chrono::seconds completion_budget() { return std::chrono::seconds(env_size("POWERBATCH_STRESS_BUDGET_S", 120)); }

// splitmix64: a fast deterministic generator, one per producer.
struct random_source {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) noexcept { return static_cast<std::uint32_t>(next() % n); }
};

std::uint64_t mix(std::uint64_t x) noexcept { return random_source{x}.next(); }

// ---- what each request is and what happened to it -----------------------------------------------------------

struct stress_input {
  std::uint32_t id = 0;
  std::uint32_t key = 0;
};
using stress_output = std::uint64_t;

constexpr stress_output expected_output(std::uint32_t id) noexcept { return std::uint64_t{id} * 2654435761u + 7; }
constexpr std::string_view injected_failure = "injected backend failure";

enum class outcome : std::uint8_t {
  none,
  success,
  queue_full,
  deadline_expired,
  cancelled,
  backend_failed,
  shutting_down,
  unexpected,  // an error code outside the allowed set
  count_
};

const char* to_string(outcome o) {
  switch (o) {
    case outcome::none: return "none";
    case outcome::success: return "success";
    case outcome::queue_full: return "queue_full";
    case outcome::deadline_expired: return "deadline_expired";
    case outcome::cancelled: return "cancelled";
    case outcome::backend_failed: return "backend_failed";
    case outcome::shutting_down: return "shutting_down";
    case outcome::unexpected: return "unexpected";
    case outcome::count_: break;
  }
  return "?";
}

outcome classify(std::error_code ec) {
  if (!ec) return outcome::success;
  if (ec == pb::errc::queue_full) return outcome::queue_full;
  if (ec == pb::errc::deadline_expired) return outcome::deadline_expired;
  if (ec == pb::errc::cancelled) return outcome::cancelled;
  if (ec == pb::errc::backend_failed) return outcome::backend_failed;
  if (ec == pb::errc::shutting_down) return outcome::shutting_down;
  return outcome::unexpected;
}

// How a request was submitted, written by its producer only and read after the producers are joined.
enum deadline_kind : std::uint8_t { no_deadline, past_deadline, short_timeout, long_timeout, absolute_deadline };
struct request_shape {
  std::uint8_t key = 0;
  std::uint8_t priority = 0;
  deadline_kind deadline = no_deadline;
  bool bound = false;             // handler bound to its producer's strand, with a cancellation slot
  bool cancel_emitted = false;    // a cancellation was posted to that strand after submission
  bool after_shutdown = false;    // submitted once async_shutdown() had returned
  bool submitted = false;
};

using strand_type = asio::strand<asio::thread_pool::executor_type>;

bool running_on(const asio::any_io_executor& ex) {
  if (auto* e = ex.target<asio::thread_pool::executor_type>()) return e->running_in_this_thread();
  if (auto* e = ex.target<asio::io_context::executor_type>()) return e->running_in_this_thread();
  return true;  // not a kind this test uses
}

template <class T>
std::unique_ptr<std::atomic<T>[]> atomic_array(std::size_t n) {
  return std::make_unique<std::atomic<T>[]>(n);  // value-initialised: all zero
}

struct alignas(64) producer_lane {
  std::atomic<std::int64_t> outstanding{0};  // submitted, handler not yet run
  std::atomic<std::size_t> returned{0};      // how many async_submit calls have returned
};

// The record of one run, shared by producers, handlers and the backend. Outlives every executor of the run.
struct request_book {
  request_book(std::size_t producers_, std::size_t per_producer_)
      : producers(producers_),
        per_producer(per_producer_),
        total(producers_ * per_producer_),
        completions(atomic_array<std::uint8_t>(total)),
        outcomes(atomic_array<std::uint8_t>(total)),
        backend_runs(atomic_array<std::uint8_t>(total)),
        shapes(total),
        signals(std::make_unique<asio::cancellation_signal[]>(total)),
        lanes(producers_) {}

  std::size_t producers, per_producer, total;
  std::unique_ptr<std::atomic<std::uint8_t>[]> completions;   // handler runs per id: must end at exactly 1
  std::unique_ptr<std::atomic<std::uint8_t>[]> outcomes;      // the outcome the handler saw
  std::unique_ptr<std::atomic<std::uint8_t>[]> backend_runs;  // times the backend saw the id: at most 1
  std::vector<request_shape> shapes;
  std::unique_ptr<asio::cancellation_signal[]> signals;       // one per request; emitted only on its strand
  std::vector<producer_lane> lanes;
  std::vector<strand_type> strands;                           // one per producer: where bound handlers run
  asio::any_io_executor default_executor;                     // where plain handlers run

  std::atomic<std::size_t> finished{0};
  std::atomic<std::size_t> duplicates{0};
  std::atomic<std::int64_t> first_duplicate{-1};
  std::atomic<std::size_t> wrong_outputs{0};
  std::atomic<std::size_t> lost_details{0};      // backend_failed without the exception's message
  std::atomic<std::size_t> wrong_executor{0};    // a handler ran off its associated executor
  std::atomic<std::size_t> backend_batches{0};
  std::atomic<std::size_t> backend_failures{0};
  std::atomic<std::size_t> mixed_key_batches{0};
  std::atomic<std::size_t> empty_batches{0};
  std::atomic<std::size_t> oversize_batches{0};   // over the backend's max_batch_size(): a broken promise
  std::atomic<std::size_t> over_policy_cap{0};    // over the Timeout policy's max_batch_size: reported only
  std::atomic<std::size_t> largest_batch{0};
  std::size_t backend_cap = 0;  // what the backend's max_batch_size() answers
  std::size_t policy_cap = 0;   // the Timeout policy's max_batch_size
  std::uint64_t failure_seed = 0;
  std::chrono::microseconds backend_delay{0};  // per batch, to keep batches in flight

  std::size_t producer_of(std::uint32_t id) const noexcept { return id / per_producer; }

  // The strands and executor refer to their execution context: let go of them before it is destroyed.
  void release_executors() {
    strands.clear();
    default_executor = asio::any_io_executor{};
  }

  void record(std::uint32_t id, std::error_code ec, stress_output value, const std::string_view* detail) {
    const outcome o = classify(ec);
    if (o == outcome::success && value != expected_output(id)) wrong_outputs.fetch_add(1, std::memory_order_relaxed);
    if (o == outcome::backend_failed && detail != nullptr && *detail != injected_failure)
      lost_details.fetch_add(1, std::memory_order_relaxed);
    outcomes[id].store(static_cast<std::uint8_t>(o), std::memory_order_relaxed);
    if (completions[id].fetch_add(1, std::memory_order_acq_rel) != 0) {
      duplicates.fetch_add(1, std::memory_order_relaxed);
      std::int64_t none = -1;
      first_duplicate.compare_exchange_strong(none, id, std::memory_order_relaxed);
    }
    lanes[producer_of(id)].outstanding.fetch_sub(1, std::memory_order_relaxed);
    finished.fetch_add(1, std::memory_order_release);
  }
};

// A plain callback: no executor of its own (runs on the batcher's default executor), takes the failure detail.
struct plain_handler {
  request_book* book;
  std::uint32_t id;
  std::string_view detail{};
  void accept_detail(std::string_view d) { detail = d; }
  void operator()(std::error_code ec, stress_output value) {
    if (!running_on(book->default_executor)) book->wrong_executor.fetch_add(1, std::memory_order_relaxed);
    book->record(id, ec, value, &detail);
  }
};

// The inner handler of a strand-bound request.
struct bound_handler {
  request_book* book;
  std::uint32_t id;
  void operator()(std::error_code ec, stress_output value) const {
    if (!book->strands[book->producer_of(id)].running_in_this_thread())
      book->wrong_executor.fetch_add(1, std::memory_order_relaxed);
    book->record(id, ec, value, nullptr);
  }
};

// Counts live copies, so a run can check the batcher's internal state (which owns the backend) was freed.
std::atomic<long> live_backends{0};

// Runs a batch: notes each id, checks the batch is one key and within the size cap, and throws on ~1 % of batches
// (a pure function of the batch's first id, so a given batch always fails or always succeeds).
struct stress_backend {
  using input_type = stress_input;
  using output_type = stress_output;

  request_book* book = nullptr;

  explicit stress_backend(request_book* b) : book(b) { live_backends.fetch_add(1); }
  stress_backend(const stress_backend& o) : book(o.book) { live_backends.fetch_add(1); }
  stress_backend(stress_backend&& o) noexcept : book(o.book) { live_backends.fetch_add(1); }
  stress_backend& operator=(const stress_backend&) = default;
  stress_backend& operator=(stress_backend&&) noexcept = default;
  ~stress_backend() { live_backends.fetch_sub(1); }

  std::size_t max_batch_size() const noexcept { return book->backend_cap; }

  void run(std::span<stress_input> inputs, std::span<stress_output> outputs) {
    book->backend_batches.fetch_add(1, std::memory_order_relaxed);
    if (inputs.empty()) {
      book->empty_batches.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // The backend's max_batch_size() caps every batch, whatever flushed it. The Timeout policy's own cap is not
    // applied to priority and drain flushes (they take up to the backend's cap), so it is only reported.
    if (inputs.size() > book->backend_cap) book->oversize_batches.fetch_add(1, std::memory_order_relaxed);
    if (inputs.size() > book->policy_cap) book->over_policy_cap.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t seen = book->largest_batch.load(std::memory_order_relaxed);
         inputs.size() > seen && !book->largest_batch.compare_exchange_weak(seen, inputs.size());) {
    }
    bool mixed = false;
    for (const stress_input& in : inputs) {
      book->backend_runs[in.id].fetch_add(1, std::memory_order_relaxed);
      mixed |= in.key != inputs[0].key;
    }
    if (mixed) book->mixed_key_batches.fetch_add(1, std::memory_order_relaxed);
    if (book->backend_delay.count() > 0) std::this_thread::sleep_for(book->backend_delay);
    if (mix(book->failure_seed ^ inputs[0].id) % 100 == 0) {
      book->backend_failures.fetch_add(1, std::memory_order_relaxed);
      throw std::runtime_error(std::string(injected_failure));
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) outputs[i] = expected_output(inputs[i].id);
  }
};

// ---- bounded waits ------------------------------------------------------------------------------------------------

// Runs `join`; if it has not returned within `limit`, calls `force` (which must make `join` return). Returns true
// if `join` finished by itself.
bool join_within(std::chrono::seconds limit, const std::function<void()>& join, const std::function<void()>& force) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  bool forced = false;
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, limit, [&] { return done; })) {
      forced = true;
      lock.unlock();
      force();
    }
  });
  join();
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_one();
  watchdog.join();
  return !forced;
}

// ---- one run --------------------------------------------------------------------------------------------------------

enum class topology { one_pool, dispatch_io_context_compute_pool };

struct run_params {
  std::string name;
  std::size_t per_producer = 0;
  pb::shutdown_mode mode = pb::shutdown_mode::cancel;
  topology layout = topology::one_pool;
  std::uint64_t seed = 0;
};

struct run_report {
  std::string name;
  std::size_t total = 0;
  std::size_t lost = 0;
  std::size_t duplicates = 0;
  std::array<std::size_t, static_cast<std::size_t>(outcome::count_)> by_outcome{};
  pb::batcher_stats stats{};
  pb::batcher_stats stats_at_shutdown{};
  bool shutdown_completed = false;
  bool executors_went_idle = false;
  bool state_freed = false;
  double seconds = 0;
  std::size_t largest_batch = 0, policy_cap = 0, backend_cap = 0, over_policy_cap = 0;
  std::vector<std::string> problems;  // every broken promise, with enough detail to reproduce

  std::size_t count(outcome o) const { return by_outcome[static_cast<std::size_t>(o)]; }
  std::string summary() const {
    std::ostringstream s;
    s << name << ": " << total << " requests in " << seconds << " s; lost " << lost << ", duplicated " << duplicates;
    for (std::size_t i = 1; i < by_outcome.size(); ++i)
      s << ", " << to_string(static_cast<outcome>(i)) << " " << by_outcome[i];
    s << "; batches " << stats.batches << " (mean " << stats.mean_batch_size() << ", largest " << largest_batch
      << "; " << over_policy_cap << " over the policy's max_batch_size " << policy_cap << ", backend cap "
      << backend_cap << "), wake-ups " << stats.dispatcher_wakeups << ", timers " << stats.timers_armed;
    return s.str();
  }
};

std::string describe(const pb::batcher_stats& s) {
  std::ostringstream o;
  o << "submitted " << s.submitted << ", completed " << s.completed << ", backend_failed " << s.backend_failed
    << ", queue_full " << s.queue_full << ", deadline_expired " << s.deadline_expired << ", cancelled "
    << s.cancelled << ", shutting_down " << s.shutting_down << ", finished " << s.finished() << ", pending "
    << s.pending << ", in_flight " << s.in_flight << ", batches " << s.batches << ", batched_requests "
    << s.batched_requests << ", wake-ups " << s.dispatcher_wakeups << " (posted " << s.wakeups_posted
    << ", timer " << s.timer_fires << ")";
  return o.str();
}

// Submits one request with random options. Returns after async_submit() returned (and the cancellation, if any,
// was posted).
template <class BatcherT>
void submit_one(BatcherT& batcher, request_book& book, std::size_t producer, std::uint32_t id, random_source& rng,
                bool after_shutdown) {
  request_shape& shape = book.shapes[id];
  shape.key = static_cast<std::uint8_t>(rng.below(8));
  shape.priority = static_cast<std::uint8_t>(rng.below(3));
  shape.after_shutdown = after_shutdown;
  pb::request_options options;
  options.priority = shape.priority;
  options.key = shape.key;
  const std::uint32_t d = rng.below(100);
  if (d < 1) {
    shape.deadline = past_deadline;  // refused at submission with deadline_expired
    options.deadline = steady::now() - 1ms;
  } else if (d < 11) {
    shape.deadline = short_timeout;  // often expires while waiting
    options.timeout = std::chrono::microseconds(1 + rng.below(300));
  } else if (d < 21) {
    shape.deadline = long_timeout;
    options.timeout = std::chrono::microseconds(500 + rng.below(20'000));
  } else if (d < 25) {
    shape.deadline = absolute_deadline;
    options.deadline = steady::now() + std::chrono::microseconds(100 + rng.below(5'000));
  }
  shape.bound = rng.below(2) == 0;
  // ~2 % of all requests: 4 % of the bound half.
  shape.cancel_emitted = shape.bound && rng.below(25) == 0;
  shape.submitted = true;
  const stress_input input{id, shape.key};
  book.lanes[producer].outstanding.fetch_add(1, std::memory_order_relaxed);
  if (!shape.bound) {
    batcher.async_submit(input, options, plain_handler{&book, id});
    return;
  }
  strand_type& strand = book.strands[producer];
  // Cancellation and Asio's threading rule. A cancellation slot is not thread-safe: emit() on the signal must not
  // run concurrently with anything else touching the slot — the batcher installing its handler (inside
  // async_submit, on this thread) and clearing it (just before the completion handler runs, on the handler's
  // associated executor). So every cancellable request's handler is bound to its producer's strand, and the emit
  // is posted to that same strand after async_submit() has returned:
  //   - async_submit() installing the slot handler happens-before the post, so before the emit;
  //   - the completion (slot clear, then the upcall) and the emit are both strand handlers, so they never overlap;
  //     an emit that runs after the completion finds the slot cleared and does nothing.
  // Which of the two runs first is a real race, and the point of the test: the request must then complete exactly
  // once, with `cancelled` if the batcher saw the cancellation before dispatch, otherwise with its normal outcome.
  // Cancellation types vary: the batcher treats terminal, partial and total alike.
  batcher.async_submit(
      input, options,
      asio::bind_executor(strand, asio::bind_cancellation_slot(book.signals[id].slot(), bound_handler{&book, id})));
  if (shape.cancel_emitted) {
    static constexpr std::array<asio::cancellation_type, 3> types{
        asio::cancellation_type::terminal, asio::cancellation_type::partial, asio::cancellation_type::total};
    const asio::cancellation_type type = types[rng.below(3)];
    asio::post(strand, [signal = &book.signals[id], type] { signal->emit(type); });
  }
}

template <class BatcherT>
run_report run_stress(const run_params& params, typename BatcherT::config cfg) {
  run_report report;
  report.name = params.name;
  const std::size_t per_producer = params.per_producer;
  request_book book(producer_count, per_producer);
  book.failure_seed = params.seed;
  book.policy_cap = cfg.timeout.max_batch_size;
  book.backend_cap = cfg.timeout.max_batch_size * 3 / 2;
  report.total = book.total;
  const auto started = steady::now();

  // Executors: declared after the book so that they (and every handler they still hold) go first.
  asio::thread_pool pool(2);
  std::optional<asio::io_context> dispatch_context;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> dispatch_work;
  std::thread dispatch_thread;
  asio::any_io_executor dispatch_executor = pool.get_executor();
  if (params.layout == topology::dispatch_io_context_compute_pool) {
    dispatch_context.emplace(1);
    dispatch_work.emplace(dispatch_context->get_executor());
    dispatch_thread = std::thread([&] { dispatch_context->run(); });
    dispatch_executor = dispatch_context->get_executor();
  }
  book.default_executor = dispatch_executor;
  for (std::size_t p = 0; p < producer_count; ++p) book.strands.push_back(asio::make_strand(pool.get_executor()));

  std::optional<BatcherT> batcher;
  if (params.layout == topology::one_pool)
    batcher.emplace(pool.get_executor(), stress_backend{&book}, cfg);
  else
    batcher.emplace(dispatch_executor, pool.get_executor(), stress_backend{&book}, cfg);

  std::atomic<bool> abort{false};
  std::atomic<bool> shutdown_called{false};
  std::atomic<bool> shutdown_done{false};
  std::vector<std::size_t> returned_before_shutdown(producer_count, 0);
  std::mutex shutdown_stats_mutex;  // guards report.stats_at_shutdown and batcher_alive
  bool batcher_alive = true;

  // Producers: each keeps at most `window` requests outstanding (together the queue's capacity), so the queue
  // mostly admits; now and then one bursts past its window, so the queue fills and answers queue_full.
  const std::int64_t window = static_cast<std::int64_t>(cfg.queue_capacity / producer_count);
  std::vector<std::thread> producers;
  for (std::size_t p = 0; p < producer_count; ++p) {
    producers.emplace_back([&, p] {
      random_source rng{mix(params.seed + 1 + p)};
      random_source burst_rng{mix(params.seed + 101 + p)};
      producer_lane& lane = book.lanes[p];
      std::size_t burst = 0;
      for (std::size_t i = 0; i < per_producer; ++i) {
        if (burst == 0 && burst_rng.below(2000) == 0) burst = 256 + burst_rng.below(512);
        if (burst > 0) --burst;
        for (int spins = 0; burst == 0 && lane.outstanding.load(std::memory_order_relaxed) >= window; ++spins) {
          if (abort.load(std::memory_order_relaxed)) return;
          if (spins < 64)
            std::this_thread::yield();
          else
            std::this_thread::sleep_for(50us);
        }
        if (abort.load(std::memory_order_relaxed)) return;
        // Acquire pairs with the release after async_shutdown() returned: a request that sees the flag was
        // submitted after the shutdown began, so it must be refused with shutting_down.
        const bool after = shutdown_called.load(std::memory_order_acquire);
        submit_one(*batcher, book, p, static_cast<std::uint32_t>(p * per_producer + i), rng, after);
        lane.returned.store(i + 1, std::memory_order_release);
      }
    });
  }

  // The shutdown thread: somewhere between 40 % and 80 % of the submissions, while producers keep submitting.
  const std::size_t shutdown_at = book.total * (40 + mix(params.seed) % 41) / 100;
  std::thread shutdown_thread([&] {
    for (;;) {
      std::size_t sum = 0;
      for (auto& lane : book.lanes) sum += lane.returned.load(std::memory_order_relaxed);
      if (sum >= shutdown_at) break;
      if (abort.load(std::memory_order_relaxed)) return;
      std::this_thread::sleep_for(100us);
    }
    // Requests whose async_submit() returned before this point happen-before the shutdown call: in drain mode none
    // of them may complete with shutting_down.
    for (std::size_t p = 0; p < producer_count; ++p)
      returned_before_shutdown[p] = book.lanes[p].returned.load(std::memory_order_acquire);
    batcher->async_shutdown(params.mode, [&] {
      std::lock_guard lock(shutdown_stats_mutex);
      if (batcher_alive) report.stats_at_shutdown = batcher->stats();
      shutdown_done.store(true, std::memory_order_release);
    });
    shutdown_called.store(true, std::memory_order_release);
  });

  // Wait, bounded, for every handler and the shutdown's completion.
  const auto give_up = steady::now() + completion_budget();
  while (book.finished.load(std::memory_order_acquire) < book.total || !shutdown_done.load(std::memory_order_acquire)) {
    if (steady::now() > give_up) {
      abort.store(true);
      report.problems.push_back("gave up after " + std::to_string(completion_budget().count()) + " s: " +
                                std::to_string(book.finished.load()) + " of " + std::to_string(book.total) +
                                " handlers ran, shutdown " + (shutdown_done.load() ? "completed" : "NOT completed"));
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  for (auto& t : producers) t.join();
  shutdown_thread.join();
  report.shutdown_completed = shutdown_done.load(std::memory_order_acquire);
  report.stats = batcher->stats();

  // ---- per-request verdicts ----
  std::size_t backend_runs_total = 0;
  std::size_t shown = 0;
  auto problem = [&](std::uint32_t id, const std::string& what) {
    if (shown++ >= 25) return;
    const request_shape& s = book.shapes[id];
    std::ostringstream o;
    o << "id " << id << " (producer " << book.producer_of(id) << ", key " << int(s.key) << ", priority "
      << int(s.priority) << ", deadline kind " << int(s.deadline) << (s.bound ? ", strand-bound" : ", plain")
      << (s.cancel_emitted ? ", cancel emitted" : "") << (s.after_shutdown ? ", after shutdown" : "")
      << (s.submitted ? "" : ", never submitted") << "): " << what << "; completions "
      << int(book.completions[id].load()) << ", outcome " << to_string(static_cast<outcome>(book.outcomes[id].load()))
      << ", backend runs " << int(book.backend_runs[id].load());
    report.problems.push_back(o.str());
  };
  for (std::uint32_t id = 0; id < book.total; ++id) {
    const request_shape& s = book.shapes[id];
    const std::uint8_t done = book.completions[id].load(std::memory_order_acquire);
    const outcome o = static_cast<outcome>(book.outcomes[id].load(std::memory_order_relaxed));
    const std::uint8_t runs = book.backend_runs[id].load(std::memory_order_relaxed);
    backend_runs_total += runs;
    if (!s.submitted) continue;  // only after an abort
    if (done == 0) {
      ++report.lost;
      problem(id, "LOST: never completed");
      continue;
    }
    if (done > 1) {
      report.duplicates += done - 1u;
      problem(id, "completed " + std::to_string(done) + " times");
    }
    ++report.by_outcome[static_cast<std::size_t>(o)];
    const bool before_shutdown = id % per_producer < returned_before_shutdown[book.producer_of(id)];
    const bool reached_backend = o == outcome::success || o == outcome::backend_failed;
    if (o == outcome::unexpected) problem(id, "error code outside the allowed set");
    if (runs > 1) problem(id, "reached the backend more than once");
    if (reached_backend && runs != 1) problem(id, "outcome says it ran, but the backend never saw it");
    if (!reached_backend && runs != 0) problem(id, "reached the backend, then completed without its result");
    if (s.deadline == past_deadline && o != outcome::deadline_expired)
      problem(id, "deadline already past at submission, but not deadline_expired");
    // Submission checks the deadline before admission, so an absolute deadline that passed on the way in (it is
    // taken from the clock before async_submit) may answer deadline_expired instead.
    if (s.after_shutdown && o != outcome::shutting_down &&
        !(o == outcome::deadline_expired && (s.deadline == past_deadline || s.deadline == absolute_deadline)))
      problem(id, "submitted after async_shutdown() returned, but not shutting_down");
    if (o == outcome::cancelled && !s.cancel_emitted) problem(id, "cancelled without a cancellation");
    if (o == outcome::deadline_expired && s.deadline == no_deadline) problem(id, "expired without a deadline");
    if (params.mode == pb::shutdown_mode::drain && before_shutdown) {
      if (o == outcome::shutting_down) problem(id, "drain shutdown refused a request submitted before it");
      if (s.deadline == no_deadline && !s.cancel_emitted && !reached_backend && o != outcome::queue_full)
        problem(id, "drain shutdown did not run a request submitted before it");
    }
  }
  if (shown > 25) report.problems.push_back("... and " + std::to_string(shown - 25) + " more per-request problems");

  // ---- the handlers' view against the batcher's counters ----
  auto expect_equal = [&](const char* what, std::uint64_t batcher_says, std::uint64_t handlers_say) {
    if (batcher_says != handlers_say)
      report.problems.push_back(std::string("stats.") + what + " = " + std::to_string(batcher_says) +
                                ", but the test counted " + std::to_string(handlers_say));
  };
  const pb::batcher_stats& st = report.stats;
  if (report.problems.empty()) {  // after an abort the counts legitimately differ
    expect_equal("submitted", st.submitted, book.total);
    expect_equal("finished()", st.finished(), book.total);
    expect_equal("pending", st.pending, 0);
    expect_equal("in_flight", st.in_flight, 0);
    expect_equal("completed", st.completed, report.count(outcome::success));
    expect_equal("backend_failed", st.backend_failed, report.count(outcome::backend_failed));
    expect_equal("queue_full", st.queue_full, report.count(outcome::queue_full));
    expect_equal("deadline_expired", st.deadline_expired, report.count(outcome::deadline_expired));
    expect_equal("cancelled", st.cancelled, report.count(outcome::cancelled));
    expect_equal("shutting_down", st.shutting_down, report.count(outcome::shutting_down));
    expect_equal("batched_requests", st.batched_requests, backend_runs_total);
    expect_equal("batches", st.batches, book.backend_batches.load());
    std::uint64_t by_reason = 0, by_size = 0;
    for (auto n : st.flushes_by_reason) by_reason += n;
    for (auto n : st.batch_size_histogram) by_size += n;
    expect_equal("flushes_by_reason (sum)", by_reason, st.batches);
    expect_equal("batch_size_histogram (sum)", by_size, st.batches);
    {
      std::lock_guard lock(shutdown_stats_mutex);
      // Producers still submit while the shutdown completes: each refused submission counts itself in `pending`
      // for a moment (admit, see the batcher closed, undo), so up to one per producer may show here.
      if (report.stats_at_shutdown.pending > producer_count)
        report.problems.push_back("stats.pending when the shutdown completed = " +
                                  std::to_string(report.stats_at_shutdown.pending) + " (more than one per producer)");
      expect_equal("in_flight when the shutdown completed", report.stats_at_shutdown.in_flight, 0);
    }
  }
  auto expect_zero = [&](const char* what, std::size_t n) {
    if (n != 0) report.problems.push_back(std::string(what) + ": " + std::to_string(n));
  };
  expect_zero("handlers completed more than once (counted in the handler)", book.duplicates.load());
  expect_zero("successes with a wrong output", book.wrong_outputs.load());
  expect_zero("backend_failed without the exception's message", book.lost_details.load());
  expect_zero("handlers run off their associated executor", book.wrong_executor.load());
  expect_zero("batches mixing batching keys", book.mixed_key_batches.load());
  expect_zero("empty batches given to the backend", book.empty_batches.load());
  expect_zero("batches over the backend's max_batch_size()", book.oversize_batches.load());
  if (!report.problems.empty()) report.problems.push_back("batcher stats: " + describe(st));

  // ---- teardown: every executor must go idle by itself, and the batcher's state must be freed ----
  {
    std::lock_guard lock(shutdown_stats_mutex);  // a late shutdown handler (after a give-up) must not see it go
    batcher_alive = false;
    batcher.reset();
  }
  dispatch_work.reset();
  report.executors_went_idle = join_within(
      30s,
      [&] {
        pool.join();
        if (dispatch_thread.joinable()) dispatch_thread.join();
      },
      [&] {
        pool.stop();
        if (dispatch_context) dispatch_context->stop();
      });
  book.release_executors();
  if (!report.executors_went_idle)
    report.problems.push_back("the executors still had work 30 s after the shutdown completed (a leaked timer, "
                              "handler or work guard); stopped them");
  report.state_freed = live_backends.load() == 0;
  if (!report.state_freed)
    report.problems.push_back("the batcher's state (which owns the backend) was not freed once its executors went "
                              "idle: " + std::to_string(live_backends.load()) + " backends alive");
  report.seconds = std::chrono::duration<double>(steady::now() - started).count();
  report.largest_batch = book.largest_batch.load();
  report.policy_cap = book.policy_cap;
  report.backend_cap = book.backend_cap;
  report.over_policy_cap = book.over_policy_cap.load();
  std::printf("%s\n", report.summary().c_str());
  std::fflush(stdout);
  return report;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& line : lines) all += "\n  " + line;
  return all;
}

void check(const run_report& r) {
  INFO(r.summary());
  INFO("problems:" << joined(r.problems));
  CHECK(r.lost == 0);
  CHECK(r.duplicates == 0);
  CHECK(r.shutdown_completed);
  CHECK(r.executors_went_idle);
  CHECK(r.state_freed);
  CHECK(r.problems.empty());
}

std::uint64_t seed_for(const std::string& name) {
  return mix(base_seed() ^ std::hash<std::string>{}(name));
}

template <class BatcherT, class Configure>
void run_and_check(const std::string& name, std::size_t per_producer, pb::shutdown_mode mode, topology layout,
                   Configure&& configure) {
  run_params params;
  params.name = name;
  params.per_producer = per_producer;
  params.mode = mode;
  params.layout = layout;
  params.seed = seed_for(name);
  typename BatcherT::config cfg;
  configure(cfg);
  INFO("seed " << base_seed() << " (POWERBATCH_STRESS_SEED), run seed " << params.seed);
  check(run_stress<BatcherT>(params, cfg));
}

const char* mode_name(pb::shutdown_mode m) { return m == pb::shutdown_mode::drain ? "drain" : "cancel"; }

// Runs one batcher's stress test in both executor layouts, a Catch2 section each: everything on one thread_pool(2)
// with shutdown `pool_mode`, and dispatch on an io_context with compute on a thread_pool(2) with shutdown
// `split_mode`. The run's name (and so its seed) is "<label>/one_pool/<mode>" or "<label>/io_context+pool/<mode>".
template <class BatcherT, class Configure>
void run_in_both_layouts(const std::string& label, std::size_t per_producer, pb::shutdown_mode pool_mode,
                         pb::shutdown_mode split_mode, Configure&& configure) {
  SECTION(std::string("one thread_pool(2), shutdown ") + mode_name(pool_mode)) {
    run_and_check<BatcherT>(label + "/one_pool/" + mode_name(pool_mode), per_producer, pool_mode, topology::one_pool,
                            configure);
  }
  SECTION(std::string("dispatch on an io_context, compute on a thread_pool(2), shutdown ") + mode_name(split_mode)) {
    run_and_check<BatcherT>(label + "/io_context+pool/" + mode_name(split_mode), per_producer, split_mode,
                            topology::dispatch_io_context_compute_pool, configure);
  }
}

}  // namespace

// ---- the stress test: default batcher, 4 x 250 000 ---------------------------------------------------------

TEST_CASE("stress: default_batcher, 4 producers x 250 000, shutdown in the middle", "[stress]") {
  using batcher_type = pb::default_batcher<stress_backend>;
  const std::size_t n = requests_per_producer(250'000);
  auto configure = [](batcher_type::config& cfg) {
    cfg.queue_capacity = 2048;
    cfg.max_in_flight = 3;
    cfg.timeout.max_batch_size = 32;
    cfg.timeout.max_delay = 500us;
  };
  for (pb::shutdown_mode mode : {pb::shutdown_mode::cancel, pb::shutdown_mode::drain})
    run_in_both_layouts<batcher_type>("default", n, mode, mode, configure);
}

// Grouped admission: per-group credits, arrival order from the CPU counter (shared_count where it is not trusted).
TEST_CASE("stress: default_batcher with grouped admission, 4 producers x 50 000", "[stress]") {
  using batcher_type = pb::default_batcher<stress_backend>;
  const std::size_t n = requests_per_producer(50'000);
  auto configure = [](batcher_type::config& cfg) {
    cfg.admission = pb::admission_mode::grouped;
    cfg.queue_capacity = 512;  // small, so that groups run dry and take back each other's credits
    cfg.max_in_flight = 3;
    cfg.timeout.max_batch_size = 32;
    cfg.timeout.max_delay = 500us;
  };
  run_in_both_layouts<batcher_type>("grouped", n, pb::shutdown_mode::cancel, pb::shutdown_mode::drain, configure);
}

// ---- other queue and priority policies, smaller -----------------------------------------------------------------

TEST_CASE("stress: mutex_deque + earliest_deadline (latency_target), 4 producers x 50 000", "[stress]") {
  using batcher_type =
      pb::Batcher<pb::queue::mutex_deque, pb::timeout::latency_target, pb::priority::earliest_deadline, stress_backend>;
  const std::size_t n = requests_per_producer(50'000);
  auto configure = [](batcher_type::config& cfg) {
    cfg.queue_capacity = 1024;
    cfg.max_in_flight = 2;
    cfg.timeout.max_batch_size = 64;
    cfg.timeout.target_latency = 2ms;
    cfg.timeout.max_wait = 1ms;
  };
  run_in_both_layouts<batcher_type>("mutex_deque+edf", n, pb::shutdown_mode::cancel, pb::shutdown_mode::drain,
                                    configure);
}

TEST_CASE("stress: boost_lockfree + aging (aimd), 4 producers x 50 000", "[stress]") {
  using batcher_type =
      pb::Batcher<pb::queue::boost_lockfree, pb::timeout::aimd, pb::priority::aging<3>, stress_backend>;
  const std::size_t n = requests_per_producer(50'000);
  auto configure = [](batcher_type::config& cfg) {
    cfg.queue_capacity = 4096;
    cfg.max_in_flight = 4;
    cfg.timeout.max_batch_size = 128;
    cfg.timeout.latency_objective = 200us;
    cfg.timeout.max_delay = 1ms;
    cfg.priority.aging_step = 200us;
  };
  run_in_both_layouts<batcher_type>("lockfree+aging", n, pb::shutdown_mode::drain, pb::shutdown_mode::cancel,
                                    configure);
}

// moodycamel was the default queue before sharded_ring; sharded_ring<2> makes four producers share two rings.
TEST_CASE("stress: moodycamel + fifo, and sharded_ring<2> + strict levels, 4 producers x 50 000", "[stress]") {
  const std::size_t n = requests_per_producer(50'000);
  auto configure = [](auto& cfg) {
    cfg.queue_capacity = 1024;
    cfg.max_in_flight = 2;
    cfg.timeout.max_batch_size = 48;
    cfg.timeout.max_delay = 300us;
  };
  SECTION("moodycamel, one thread_pool(2), shutdown cancel") {
    using batcher_type =
        pb::Batcher<pb::queue::moodycamel, pb::timeout::size_or_delay, pb::priority::fifo, stress_backend>;
    run_and_check<batcher_type>("moodycamel+fifo/one_pool/cancel", n, pb::shutdown_mode::cancel, topology::one_pool,
                                configure);
  }
  SECTION("sharded_ring<2>, dispatch on an io_context, compute on a thread_pool(2), shutdown drain") {
    using batcher_type =
        pb::Batcher<pb::queue::sharded_ring<2>, pb::timeout::size_or_delay, pb::priority::strict_levels<3>,
                    stress_backend>;
    run_and_check<batcher_type>("sharded_ring2+levels/io_context+pool/drain", n, pb::shutdown_mode::drain,
                                topology::dispatch_io_context_compute_pool, configure);
  }
}

// ---- destroying the Batcher with requests pending -----------------------------------------------------------------

namespace {

struct destroy_report {
  std::size_t lost = 0, duplicates = 0, wrong = 0;
  std::array<std::size_t, static_cast<std::size_t>(outcome::count_)> by_outcome{};
  std::vector<std::string> problems;
};

// Checks each submitted id completed exactly once with an outcome in `allowed`.
destroy_report audit(const request_book& book, std::initializer_list<outcome> allowed) {
  destroy_report r;
  for (std::uint32_t id = 0; id < book.total; ++id) {
    if (!book.shapes[id].submitted) continue;
    const std::uint8_t done = book.completions[id].load();
    const outcome o = static_cast<outcome>(book.outcomes[id].load());
    if (done == 0) {
      if (r.lost++ < 10) r.problems.push_back("id " + std::to_string(id) + " never completed");
      continue;
    }
    if (done > 1) {
      r.duplicates += done - 1u;
      if (r.problems.size() < 20) r.problems.push_back("id " + std::to_string(id) + " completed " +
                                                       std::to_string(done) + " times");
    }
    ++r.by_outcome[static_cast<std::size_t>(o)];
    if (std::find(allowed.begin(), allowed.end(), o) == allowed.end()) {
      if (r.wrong++ < 10)
        r.problems.push_back("id " + std::to_string(id) + " completed with " + to_string(o));
    }
  }
  if (book.wrong_outputs.load()) r.problems.push_back("successes with a wrong output");
  if (book.wrong_executor.load()) r.problems.push_back("handlers run off their associated executor");
  return r;
}

}  // namespace

TEST_CASE("stress: destroying the Batcher with requests pending completes each exactly once", "[stress]") {
  using batcher_type = pb::default_batcher<stress_backend>;

  SECTION("executor not running: every request completes once the executor runs") {
    // The batcher's io_context does not run before the Batcher is gone, so every request is still waiting when it
    // is destroyed (in cancel mode). Each must complete exactly once once the io_context runs: with shutting_down,
    // cancelled where its cancellation wins, or deadline_expired. A batcher that lets the wake-up queued before the
    // destruction start batches would also give results; that is allowed here and reported ("ran after the Batcher
    // was destroyed"). Bound handlers' strands live on a running pool of their own, so their cancellations land
    // both before and after the destruction (the batcher's state still exists then, waiting for its io_context).
    const std::size_t n = 3000;
    request_book book(1, n);
    book.policy_cap = 32;
    book.backend_cap = 48;
    {
      asio::io_context context(1);
      book.default_executor = context.get_executor();
      asio::thread_pool handler_pool(1);
      book.strands.push_back(asio::make_strand(handler_pool.get_executor()));
      {
        batcher_type::config cfg;
        cfg.queue_capacity = 4096;
        batcher_type batcher(context.get_executor(), stress_backend{&book}, cfg);
        random_source rng{seed_for("destroy/idle")};
        for (std::uint32_t id = 0; id < n; ++id) submit_one(batcher, book, 0, id, rng, false);
      }  // ~Batcher: shutdown in cancel mode, returns at once
      context.run_for(30s);
      const bool idle = join_within(30s, [&] { handler_pool.join(); }, [&] { handler_pool.stop(); });
      book.release_executors();
      CHECK(idle);
      CHECK(context.stopped());  // out of work: no timer left armed
    }
    const destroy_report r = audit(book, {outcome::shutting_down, outcome::cancelled, outcome::deadline_expired,
                                          outcome::success, outcome::backend_failed});
    INFO("problems:" << joined(r.problems));
    INFO("shutting_down " << r.by_outcome[std::size_t(outcome::shutting_down)] << ", cancelled "
                          << r.by_outcome[std::size_t(outcome::cancelled)] << ", deadline_expired "
                          << r.by_outcome[std::size_t(outcome::deadline_expired)]);
    std::printf("destroy/idle: %zu requests; shutting_down %zu, cancelled %zu, deadline_expired %zu; ran after the "
                "Batcher was destroyed: %zu batches, success %zu, backend_failed %zu\n",
                book.total, r.by_outcome[std::size_t(outcome::shutting_down)],
                r.by_outcome[std::size_t(outcome::cancelled)], r.by_outcome[std::size_t(outcome::deadline_expired)],
                book.backend_batches.load(), r.by_outcome[std::size_t(outcome::success)],
                r.by_outcome[std::size_t(outcome::backend_failed)]);
    CHECK(r.lost == 0);
    CHECK(r.duplicates == 0);
    CHECK(r.wrong == 0);
    CHECK(r.problems.empty());
    CHECK(live_backends.load() == 0);
  }

  SECTION("executor running, batches in flight: destroyed while producers' requests wait") {
    // A slow backend (1 ms a batch of at most 16, two at a time) keeps batches running and thousands of requests
    // waiting; the Batcher is destroyed right after the producers' last submission returns. Running batches finish
    // (success or backend_failed), the rest completes with shutting_down, deadline_expired or cancelled, and the
    // batcher's state is freed once the pool has no more work.
    const std::size_t per_producer = requests_per_producer(20'000);
    request_book book(producer_count, per_producer);
    book.policy_cap = 16;
    book.backend_cap = 24;
    book.failure_seed = seed_for("destroy/busy");
    book.backend_delay = 1ms;
    {
      asio::thread_pool pool(2);
      book.default_executor = pool.get_executor();
      for (std::size_t p = 0; p < producer_count; ++p) book.strands.push_back(asio::make_strand(pool.get_executor()));
      {
        batcher_type::config cfg;
        cfg.queue_capacity = 4096;
        cfg.max_in_flight = 2;
        cfg.timeout.max_batch_size = 16;
        cfg.timeout.max_delay = 2ms;
        batcher_type batcher(pool.get_executor(), stress_backend{&book}, cfg);
        std::vector<std::thread> producers;
        for (std::size_t p = 0; p < producer_count; ++p)
          producers.emplace_back([&, p] {
            random_source rng{seed_for("destroy/busy") + p};
            for (std::size_t i = 0; i < per_producer; ++i)
              submit_one(batcher, book, p, static_cast<std::uint32_t>(p * per_producer + i), rng, false);
          });
        for (auto& t : producers) t.join();
      }  // ~Batcher with (typically) thousands of requests waiting
      const auto give_up = steady::now() + completion_budget();
      while (book.finished.load(std::memory_order_acquire) < book.total && steady::now() < give_up)
        std::this_thread::sleep_for(5ms);
      const bool idle = join_within(30s, [&] { pool.join(); }, [&] { pool.stop(); });
      book.release_executors();
      CHECK(idle);
    }
    const destroy_report r = audit(book, {outcome::success, outcome::backend_failed, outcome::queue_full,
                                          outcome::shutting_down, outcome::cancelled, outcome::deadline_expired});
    INFO("problems:" << joined(r.problems));
    INFO("success " << r.by_outcome[std::size_t(outcome::success)] << ", shutting_down "
                    << r.by_outcome[std::size_t(outcome::shutting_down)] << ", queue_full "
                    << r.by_outcome[std::size_t(outcome::queue_full)]);
    std::printf("destroy/busy: %zu requests; success %zu, backend_failed %zu, queue_full %zu, shutting_down %zu, "
                "cancelled %zu, deadline_expired %zu\n",
                book.total, r.by_outcome[std::size_t(outcome::success)],
                r.by_outcome[std::size_t(outcome::backend_failed)], r.by_outcome[std::size_t(outcome::queue_full)],
                r.by_outcome[std::size_t(outcome::shutting_down)], r.by_outcome[std::size_t(outcome::cancelled)],
                r.by_outcome[std::size_t(outcome::deadline_expired)]);
    CHECK(r.lost == 0);
    CHECK(r.duplicates == 0);
    CHECK(r.wrong == 0);
    CHECK(r.problems.empty());
    CHECK(live_backends.load() == 0);
  }
}
