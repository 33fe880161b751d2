// The batcher's shared state and dispatcher. Users see it only through powerbatch::Batcher (batcher.hpp).
//
// Threads and ownership:
//  - Producers (any thread) are admitted, push the request into the Queue policy and post at most one wake-up to
//    the dispatcher, only when their arrival can change a decision. Admission is one of two kinds (admission_mode):
//    per-group credits (grouped_admission.hpp), with arrival order from the CPU counter read after every earlier
//    instruction (counter_order.hpp), where that counter is trusted; else one shared count, `admitted_`, whose
//    atomic add also numbers the request. Either order agrees with every happens-before between submissions.
//  - The dispatcher runs as handlers on the user's executor, one at a time (enter_dispatcher() serialises them
//    with one atomic word, like a strand that never allocates). It alone touches lanes, the slab of waiting
//    requests, the Priority containers, the Timeout states and the timer, so none of those need locks.
//  - Batches run on the compute executor; their completions go to each request's associated executor.
//  - The core is owned by a shared_ptr: the Batcher handle and every posted handler hold it, so nothing runs on
//    freed state, whatever order the user tears things down in.
#pragma once

#include <powerbatch/batcher_config.hpp>
#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/backend.hpp>
#include <powerbatch/concepts/observer.hpp>
#include <powerbatch/concepts/priority_policy.hpp>
#include <powerbatch/concepts/queue_policy.hpp>
#include <powerbatch/concepts/timeout_policy.hpp>
#include <powerbatch/detail/completion.hpp>
#include <powerbatch/detail/counter_arrivals.hpp>
#include <powerbatch/detail/counter_order.hpp>
#include <powerbatch/detail/grouped_admission.hpp>
#include <powerbatch/detail/handler_memory.hpp>
#include <powerbatch/detail/prefetch.hpp>
#include <powerbatch/detail/thread_ordinal.hpp>
#include <powerbatch/detail/thread_sleeps.hpp>
#include <powerbatch/detail/waiting_deadlines.hpp>
#include <powerbatch/detail/wake_lateness.hpp>
#include <powerbatch/error.hpp>
#include <powerbatch/request_options.hpp>
#include <powerbatch/stats.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE

// How a shutdown treats requests that are still waiting: run them (drain) or complete them with
// errc::shutting_down (cancel). Batches already running always finish.
enum class shutdown_mode : std::uint8_t { drain = 1, cancel = 2 };

namespace detail {

// Requests are told apart by submitting thread modulo this many (request::submitter, for_each_by_submitter).
inline constexpr unsigned submitter_groups = 16;

// A request's place in arrival order: the CPU counter's ordered read (grouped admission), or its admission number
// (shared count) in the top 32 bits. Either wraps; two places compare by their distance (ordered_before), which is
// right while they are less than half the range apart: for admission numbers, fewer than 2^31 admissions, for the
// counter, decades. Requests drained together are far closer than that.
using arrival_order = std::uint64_t;

constexpr arrival_order order_of_admission(std::uint32_t number) noexcept { return arrival_order{number} << 32; }

constexpr bool ordered_before(arrival_order a, arrival_order b) noexcept {
  return static_cast<std::int64_t>(a - b) < 0;
}

// The fields the dispatcher reads first lead, and a small input and the handler follow them. For an int input, all
// but a small handler's own bytes sit in the queue slot's first cache line; those start the second. Reordering so
// that a plain request lies in one line measured no faster on a 16-core Xeon (the producers' admission is the limit
// there) and about 4 % faster on a 2-core machine's hot path, for 0.5-0.8 ns more a request on one thread: not kept.
template <class Input, class Output>
struct request {
  time_point arrival{};  // or, when counter_stamped, the raw counter_arrivals count in its ticks
  time_point deadline = time_point::max();
  batching_key key = 0;
  arrival_order order = 0;  // its place in arrival order
  priority_level priority = priority_levels::normal;
  std::uint8_t submitter = 0;  // the submitting thread's ordinal modulo submitter_groups (see for_each_by_submitter)
  bool counter_stamped = false;
  bool deadline_after_arrival = false;  // deadline holds a timeout, in its ticks, to add to the converted arrival
  Input input{};
  completion<Output> done;
};

// What a request keeps while it waits in the dispatcher's slab: what its batch takes. Its arrival, deadline, key
// and priority were copied out when it was drained (batcher_core::drained_request) and are not read again.
template <class Input, class Output>
struct parked_request {
  Input input{};
  completion<Output> done;
  std::uint8_t submitter = 0;

  parked_request& operator=(request<Input, Output>&& r) noexcept(std::is_nothrow_move_assignable_v<Input>) {
    input = std::move(r.input);
    done = std::move(r.done);
    submitter = r.submitter;
    return *this;
  }
};

// True when the calling thread is one that runs `ex` (so blocking on work queued to `ex` could deadlock).
inline bool runs_in_this_thread(const boost::asio::any_io_executor& ex) {
  namespace asio = boost::asio;
  if (auto* e = ex.target<asio::io_context::executor_type>()) return e->running_in_this_thread();
  if (auto* e = ex.target<asio::thread_pool::executor_type>()) return e->running_in_this_thread();
  if (auto* e = ex.target<asio::strand<asio::io_context::executor_type>>()) return e->running_in_this_thread();
  if (auto* e = ex.target<asio::strand<asio::any_io_executor>>()) return e->running_in_this_thread();
  return false;
}

template <class Queue, class Timeout, class Priority, class Backend, class Clock, class Observer>
class batcher_core
    : public std::enable_shared_from_this<batcher_core<Queue, Timeout, Priority, Backend, Clock, Observer>> {
 public:
  using input_type = typename Backend::input_type;
  using output_type = typename Backend::output_type;
  using executor_type = boost::asio::any_io_executor;
  using config_type = batcher_config<Timeout, Priority>;
  using request_type = request<input_type, output_type>;
  using parked_type = parked_request<input_type, output_type>;

  batcher_core(executor_type dispatch_executor, executor_type compute_executor, Backend backend, config_type cfg)
      : config_(std::move(cfg)),
        capacity_(checked_capacity(config_.queue_capacity)),
        queue_(capacity_),
        default_executor_(std::move(dispatch_executor)),
        compute_executor_(std::move(compute_executor)),
        compute_is_default_(compute_executor_ == default_executor_),
        timer_(default_executor_),
        backend_(std::move(backend)),
        slab_(capacity_),
        slots_(std::max<std::size_t>(1, config_.max_in_flight)) {
    free_slab_.reserve(capacity_);
    drained_.reserve(capacity_);
    merge_buffer_.reserve(capacity_);
    run_starts_.reserve(capacity_ + 1);  // a drain of n requests has at most n runs
    merged_starts_.reserve(capacity_ + 1);
    for (std::size_t i = capacity_; i-- > 0;) free_slab_.push_back(static_cast<std::uint32_t>(i));
    if constexpr (has_max_batch_size<Backend>) backend_cap_ = std::max<std::size_t>(1, backend_.max_batch_size());
    if constexpr (counter_stamps) counter_arrivals::observe(Clock::now());  // the first batcher anchors calibration
    if constexpr (!virtual_clock<Clock>)
      counters_.timer_lead_ns.store(nanoseconds_of(timer_lead()), std::memory_order_relaxed);
  }

  static std::size_t checked_capacity(std::size_t requested) {
    if (requested > max_queue_capacity)
      throw std::invalid_argument("powerbatch: queue_capacity " + std::to_string(requested) + " exceeds the limit of " +
                                  std::to_string(max_queue_capacity));
    return std::max<std::size_t>(1, requested);
  }

  batcher_core(const batcher_core&) = delete;
  batcher_core& operator=(const batcher_core&) = delete;

  // ---- producer side: any thread --------------------------------------------------------------------------

  template <class Handler>
  void submit(input_type&& input, const request_options& options, Handler&& handler) {
    arrival_stamp arrival = stamp_arrival();
    const deadline_check deadline = check_deadline(options, arrival);
    if (deadline.expired) return reject(std::forward<Handler>(handler), errc::deadline_expired);
    if constexpr (validates_input<Backend>)
      if (!backend_.accepts(std::as_const(input)))
        return reject(std::forward<Handler>(handler), errc::invalid_argument);
    const admission ticket = admit(1);
    if (ticket.refusal) return reject(std::forward<Handler>(handler), *ticket.refusal);
    stamp_admitted(arrival, ticket.first_order);
    request_type r = make_request(std::move(input), options, arrival, deadline, ticket, ticket.first_order,
                                  std::forward<Handler>(handler));
    if (!queue_.try_push(std::move(r))) {
      undo_admission(ticket, 1);
      return reject_request(r, errc::queue_full);
    }
    after_push(ticket, options.priority, arrival, deadline);
  }

  // Admits all of `inputs` or none (a whole batch never half-fits), each with its own handler from make_handler(i).
  template <class MakeHandler, class RejectAll>
  void submit_many(std::vector<input_type>&& inputs, const request_options& options, MakeHandler&& make_handler,
                   RejectAll&& reject_all) {
    arrival_stamp arrival = stamp_arrival();
    const deadline_check deadline = check_deadline(options, arrival);
    const std::size_t n = inputs.size();
    if (deadline.expired) return reject_all(errc::deadline_expired, n);
    if constexpr (validates_input<Backend>)
      for (const input_type& input : inputs)
        if (!backend_.accepts(input)) return reject_all(errc::invalid_argument, n);  // all or nothing
    if (n > max_queue_capacity) return reject_all(errc::queue_full, n);  // more than fits admission(n)'s fields
    const admission ticket = admit(n);
    if (ticket.refusal) return reject_all(*ticket.refusal, n);
    stamp_admitted(arrival, ticket.first_order);
    for (std::size_t i = 0; i < n; ++i) {
      // Under a shared count each request has its own number; under grouped admission they share the counter's
      // read, and the queue keeps one thread's pushes in order.
      const arrival_order order =
          grouped_ ? ticket.first_order : ticket.first_order + order_of_admission(static_cast<std::uint32_t>(i));
      request_type r = make_request(std::move(inputs[i]), options, arrival, deadline, ticket, order, make_handler(i));
      if (!queue_.try_push(std::move(r))) {
        // Only a queue policy breaking its capacity promise gets here; the request still completes once.
        undo_admission(ticket, 1);
        reject_request(r, errc::queue_full);
      }
    }
    after_push(ticket, options.priority, arrival, deadline);
  }

  // A submission's arrival: the CPU counter's stamp once it is calibrated (counter_arrivals.hpp: cheaper than the
  // clock, converted by the dispatcher), else the clock's time. Every request of a calibrated batcher is stamped the
  // same way, so that one thread's requests keep their order whatever their options.
  // Under grouped admission, a counter stamp is the counter's ordered read made right after admission, which is
  // also the request's place in arrival order (admit()): one read for both. Until then its value is unset.
  struct arrival_stamp {
    time_point value;  // the clock's time, or the raw count in time_point's ticks when counter_stamped
    bool counter_stamped;
  };

  arrival_stamp stamp_arrival() const noexcept {
    if constexpr (counter_stamps)
      if (counter_arrivals::calibrated())
        return {grouped_ ? time_point{} : time_point(duration(static_cast<duration::rep>(counter_arrivals::read()))),
                true};
    return {Clock::now(), false};
  }

  void stamp_admitted(arrival_stamp& arrival, arrival_order order) const noexcept {
    if (grouped_ && arrival.counter_stamped) arrival.value = time_point(duration(static_cast<duration::rep>(order)));
  }

  // The request's deadline, and whether it has passed already. Only a request with an absolute deadline needs the
  // clock's time; for a counter-stamped one that is a second read (20-40 ns, as much as the rest of a submit). A
  // counter-stamped request with only a timeout keeps the timeout instead (after_arrival), and the dispatcher adds
  // it to the arrival it converts: a positive timeout cannot have passed at submission.
  struct deadline_check {
    time_point deadline;  // or, when after_arrival, the timeout in its ticks
    bool expired;
    bool after_arrival;
  };

  static deadline_check check_deadline(const request_options& options, const arrival_stamp& arrival) noexcept {
    if (!options.deadline && !options.timeout) return {time_point::max(), false, false};
    if (arrival.counter_stamped && !options.deadline)
      return {time_point(*options.timeout), *options.timeout <= duration::zero(), true};
    const time_point now = arrival.counter_stamped ? Clock::now() : arrival.value;
    const time_point deadline = options.effective_deadline(now);
    return {deadline, deadline <= now, false};
  }

  // Posts a handler that completes at once with `error`, never inline (Asio's rule for initiating functions).
  template <class Handler>
  void reject(Handler&& handler, errc error) {
    request_type r;
    r.done.emplace(std::forward<Handler>(handler), nullptr, nullptr, nullptr);
    reject_request(r, error);
  }

  void begin_shutdown(shutdown_mode mode, boost::asio::any_completion_handler<void()> waiter = {}) {
    // Recorded before admission closes, so that every later dispatcher run applies it — including a wake-up that a
    // producer queued before this call: a cancel shutdown starts no batch for a request that was waiting.
    std::uint8_t requested = requested_mode_.load(std::memory_order_relaxed);
    while (requested < static_cast<std::uint8_t>(mode) &&
           !requested_mode_.compare_exchange_weak(requested, static_cast<std::uint8_t>(mode),
                                                  std::memory_order_release, std::memory_order_relaxed)) {
    }
    if (grouped_)
      grouped_admission_.close();
    else
      admitted_.fetch_or(closed_bit, std::memory_order_seq_cst);
    if (waiter) {
      std::lock_guard lock(shutdown_mutex_);
      shutdown_waiters_.push_back(std::move(waiter));
    }
    boost::asio::post(default_executor_, [self = this->shared_from_this()] {
      self->counters_.dispatcher_wakeups.add();
      self->enter_dispatcher();
    });
  }

  // Accounts for `n` requests refused before admission (submit_many's all-or-nothing refusal).
  void count_refusals(errc error, std::size_t n) noexcept {
    counters_.rejected_at_submit.add(n);
    count_error(error, n);
  }

  batcher_stats stats() const noexcept {
    batcher_stats s = counters_.snapshot(admitted_and_not_left());
    s.grouped_admission = grouped_;
    return s;
  }
  const executor_type& default_executor() const noexcept { return default_executor_; }
  const executor_type& compute_executor() const noexcept { return compute_executor_; }
  Backend& backend() noexcept { return backend_; }
  Observer& observer() noexcept { return observer_; }
  const config_type& config() const noexcept { return config_; }

  // True when a blocking call from this thread would wait for work that only this thread can run.
  bool blocking_would_deadlock() const {
    return runs_in_this_thread(default_executor_) || runs_in_this_thread(compute_executor_);
  }

  // A message stored when a batch last failed; for logs. Read from any thread.
  std::string last_backend_error() const {
    std::lock_guard lock(last_error_mutex_);
    return last_error_;
  }

 private:
  // Producers stamp plain arrivals with the CPU's counter (counter_arrivals.hpp) only where time is steady_clock's.
  static constexpr bool counter_stamps =
      counter_arrivals::supported && std::is_same_v<Clock, std::chrono::steady_clock>;
  // admitted_'s fields: the admission count (admission numbers) | closed_bit | requests admitted and not yet left.
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 31;
  static constexpr std::uint64_t count_mask = closed_bit - 1;
  static constexpr int admission_shift = 32;
  // Adds n to the waiting count and to the admission count (the count wraps off the top, as the numbers do).
  static constexpr std::uint64_t admission_increment(std::size_t n) noexcept {
    return n | (std::uint64_t{n} << admission_shift);
  }
  static constexpr std::uint32_t admission_number_of(std::uint64_t admitted) noexcept {
    return static_cast<std::uint32_t>(admitted >> admission_shift);
  }
  // The waiting count's field must never carry into closed_bit: admission stops far below it.
  static constexpr std::size_t max_queue_capacity = std::size_t{1} << 30;
  // How far the counter tests of a timeout against the next look err towards a wake-up (a part of the distance).
  static constexpr double next_look_margin = 1e-3;
  static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

  struct lane {
    lane(batching_key k, const config_type& cfg, std::uint64_t gen)
        : key(k), waiting(cfg.priority), generation(gen) {
      timeout.emplace(cfg.timeout);
    }
    batching_key key;
    typename Priority::template container<pending_entry> waiting;
    std::optional<typename Timeout::state> timeout;
    std::size_t urgent = 0;                           // waiting requests that ask for an immediate flush
    std::size_t deferrable = 0;                       // waiting requests with priority >= priority_levels::low
    waiting_deadlines deadlines;                      // the earliest deadline among waiting requests
    std::uint64_t generation;                         // changes when the lane is reused for another key
  };

  enum class slot_state : std::uint8_t { free, running, finished };
  struct empty_member {};

  struct batch_slot {
    std::vector<input_type> inputs;
    std::vector<output_type> outputs;
    std::vector<completion<output_type>> completions;
    // Which thread submitted each request (its group: see request::submitter), and the groups present as bits.
    // deliver() completes a batch group by group, in arrival order within a group: a callback usually writes its
    // submitter's state, and completing two producers' requests alternately made every completion take that
    // state's cache line back from the other core (measured on a 16-core Xeon: most of deliver()'s time).
    std::vector<std::uint8_t> submitters;
    std::uint32_t submitter_mask = 0;
    std::size_t size = 0;
    lane* owner = nullptr;
    std::uint64_t owner_generation = 0;
    batching_key key = 0;
    flush_reason reason = flush_reason::size;
    // Each request's arrival, kept only for an observer that watches batches (otherwise an empty member).
    [[no_unique_address]] std::conditional_t<observes_batches<Observer>, std::vector<time_point>, empty_member>
        arrivals;
    time_point dispatched_at{};
    time_point oldest_arrival{};
    duration service_time{};
    std::error_code error;
    std::string error_message;
    std::atomic<slot_state> state{slot_state::free};
    handler_memory run_memory, deliver_memory;
  };

  // ---- producer helpers ---------------------------------------------------------------------------------------

  // An admission of one or more requests: a refusal, or their place in arrival order and what the wake-up test
  // needs (after_push).
  struct admission {
    std::optional<errc> refusal;
    arrival_order first_order = 0;
    std::uint64_t count = 0;  // shared count: admitted and not yet left, ours included; grouped: the group's count
    unsigned group = 0;       // the submitting thread's group (request::submitter)
  };

  [[gnu::always_inline]] admission admit(std::size_t n) {
    const unsigned group = this_thread_ordinal() % submitter_groups;
    if (grouped_) [[unlikely]]
      return admit_grouped(n, group);
    const std::uint64_t before = admitted_.fetch_add(admission_increment(n), std::memory_order_seq_cst);
    std::optional<errc> refusal;
    if (before & closed_bit)
      refusal = errc::shutting_down;
    else if ((before & count_mask) + n > capacity_)
      refusal = errc::queue_full;
    if (refusal) {
      undo_admission(admission{std::nullopt, 0, 0, group}, n);
      return {refusal};
    }
    return {std::nullopt, order_of_admission(admission_number_of(before)), (before & count_mask) + n, group};
  }

  // Out of line: inline, it kept submit() from being inlined into its caller, which cost the shared count's path
  // 1.5 ns a request (15.0 against 16.7, 2-core AMD machine, dispatch_cost).
  [[gnu::noinline]] admission admit_grouped(std::size_t n, unsigned group) {
    const auto result = grouped_admission_.admit(group, static_cast<std::uint32_t>(n));
    if (result.wake) post_wake();  // a shutdown may be waiting for the credits this put back
    if (result.refusal) return {result.refusal};
    // One ordered read (counter_order.hpp) for order and arrival, made after the admission's locked compare-and-swap,
    // which has already waited for this thread's earlier loads: measured with lfence; rdtsc, that placement cost a
    // producer 38.4 ns a request against 40.3 at the start of submit (2-core AMD machine, dispatch_cost; 15.2 with
    // the shared count). The read is rdtscp now: 39.9-40.4 ns there.
    return {std::nullopt, counter_order::read(), result.count, group};
  }

  void undo_admission(const admission& ticket, std::size_t n) {
    if (grouped_) {
      if (grouped_admission_.undo(ticket.group, static_cast<std::uint32_t>(n))) post_wake();
      return;
    }
    const std::uint64_t before = admitted_.fetch_sub(n, std::memory_order_seq_cst);
    // A shutdown may be waiting for the count to reach zero.
    if ((before & closed_bit) && ((before - n) & count_mask) == 0) post_wake();
  }

  std::uint64_t admitted_and_not_left() const noexcept {
    if (grouped_) return grouped_admission_.outstanding();
    return admitted_.load(std::memory_order_seq_cst) & count_mask;
  }

  // For a shutdown's last test, once admission is closed (grouped_admission::all_given_back).
  bool admissions_outstanding() const noexcept {
    if (grouped_) return !grouped_admission_.all_given_back();
    return (admitted_.load(std::memory_order_seq_cst) & count_mask) != 0;
  }

  template <class Handler>
  request_type make_request(input_type&& input, const request_options& options, const arrival_stamp& arrival,
                            const deadline_check& deadline, const admission& ticket, arrival_order order,
                            Handler&& handler) {
    request_type r;
    r.input = std::move(input);
    r.done.emplace(std::forward<Handler>(handler), this, &weak_self, &notify_cancellation);
    r.arrival = arrival.value;
    r.counter_stamped = arrival.counter_stamped;
    r.deadline = deadline.deadline;
    r.deadline_after_arrival = deadline.after_arrival;
    r.key = options.key;
    r.order = order;
    r.priority = options.priority;
    r.submitter = static_cast<std::uint8_t>(ticket.group);
    return r;
  }

  void reject_request(request_type& r, errc error) {
    counters_.rejected_at_submit.add();
    count_error(error);
    r.done.complete(error, output_type{}, {}, &default_executor_);
  }

  // After a push: wake the dispatcher only if this arrival can change what it decided. Pairs with
  // publish_and_recheck(); the two orders below are why neither side can miss the other.
  void after_push(const admission& ticket, priority_level priority, const arrival_stamp& arrival,
                  const deadline_check& deadline) {
    const bool urgent = is_urgent(priority);
    if (!urgent && deadline.deadline == time_point::max()) {
      // A plain request can only matter by its count. Our admission (a seq_cst RMW, made before the push) and the
      // dispatcher's read of the counts (after it publishes the threshold or triggers) are ordered: either it
      // counts us, or we read what it published here. No fence after the push: a fence there waited for the
      // request's own stores to reach other cores, and measured as most of a producer's time on a 16-core Xeon.
      if (reaches_threshold(ticket)) post_wake();
      return;
    }
    // Urgency and deadlines are only seen in the request itself, so the dispatcher must be able to drain it:
    // this RMW comes after the push, and the dispatcher re-drains whenever it sees the count move.
    attention_.fetch_add(1, std::memory_order_seq_cst);
    if (reaches_threshold(ticket) || urgent || deadline_before_next_look(arrival, deadline)) post_wake();
  }

  bool reaches_threshold(const admission& ticket) const noexcept {
    if (grouped_) [[unlikely]] return grouped_admission_.wakes(ticket.group, static_cast<std::uint32_t>(ticket.count));
    return ticket.count >= wake_threshold_.load(std::memory_order_seq_cst);
  }

  // A timeout kept for the dispatcher is tested against the next look in counts, without the clock (see
  // check_deadline); both sides err towards a wake-up, which costs only a pass that finds nothing due.
  bool deadline_before_next_look(const arrival_stamp& arrival, const deadline_check& deadline) const noexcept {
    if constexpr (counter_stamps)
      if (deadline.after_arrival)
        return counter_arrivals::reaches_before(static_cast<std::uint64_t>(arrival.value.time_since_epoch().count()),
                                                deadline.deadline.time_since_epoch(),
                                                next_look_count_.load(std::memory_order_seq_cst), next_look_margin);
    return deadline.deadline.time_since_epoch().count() < next_look_.load(std::memory_order_seq_cst);
  }

  void post_wake() {
    if (wake_posted_.load(std::memory_order_seq_cst) || wake_posted_.exchange(true, std::memory_order_acq_rel))
      return;
    counters_.wakeups_posted.add();
    post_internal(default_executor_, wake_memory_, [self = this->shared_from_this()] { self->on_wake(); });
  }

  // Posts one of our own handlers with recycled memory. Asio honours a handler's allocator when posting to a
  // concrete io_context or thread_pool executor; through any_io_executor it would allocate, so look inside.
  template <class F>
  static void post_internal(const executor_type& ex, handler_memory& memory, F&& f) {
    auto bound = boost::asio::bind_allocator(handler_allocator<void>(&memory), std::forward<F>(f));
    if (auto* io = ex.target<boost::asio::io_context::executor_type>())
      boost::asio::post(*io, std::move(bound));
    else if (auto* pool = ex.target<boost::asio::thread_pool::executor_type>())
      boost::asio::post(*pool, std::move(bound));
    else
      boost::asio::post(ex, std::move(bound));
  }

  static std::weak_ptr<void> weak_self(void* self) {
    return static_cast<batcher_core*>(self)->weak_from_this();
  }
  static void notify_cancellation(void* self) {
    auto* core = static_cast<batcher_core*>(self);
    core->cancellations_.store(true, std::memory_order_release);
    core->post_wake();
  }

  // ---- dispatcher: one handler at a time ------------------------------------------------------------------------

  void on_wake() {
    // Pairs with after_push(): a producer that still saw the flag set is counted (admitted_ or its group) by our next
    // publish_and_recheck(), and its request, if it has urgency or a deadline, is visible to our drain.
    wake_posted_.store(false, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    counters_.dispatcher_wakeups.add();
    enter_dispatcher();
  }

  void on_timer(boost::system::error_code ec, std::uint64_t generation) {
    if (ec == boost::asio::error::operation_aborted) return;  // cancelled or re-armed: nothing to do
    // Keep the newest generation: a late completion of an older wait must not hide a newer one.
    for (std::uint64_t seen = fired_generation_.load(std::memory_order_relaxed);
         seen < generation && !fired_generation_.compare_exchange_weak(seen, generation, std::memory_order_release,
                                                                       std::memory_order_relaxed);) {
    }
    counters_.dispatcher_wakeups.add();
    enter_dispatcher();
  }

  // Runs the dispatcher unless another thread is running it; then asks that thread for one more pass instead.
  // Every event a pass must see (queued requests, a fired timer, a shutdown request, cancellations) is recorded
  // in atomics before this is called, so a requested pass misses nothing.
  void enter_dispatcher() {
    for (std::uint32_t state = dispatcher_state_.load(std::memory_order_acquire);;) {
      const std::uint32_t desired = (state & dispatcher_running) ? (state | dispatcher_rerun) : dispatcher_running;
      if (dispatcher_state_.compare_exchange_weak(state, desired, std::memory_order_acq_rel,
                                                  std::memory_order_acquire)) {
        if (state & dispatcher_running) return;
        break;
      }
    }
    bool slept = true;  // on a virtual clock no thread sleeps for real: every run counts (and costs no syscall)
    if constexpr (!virtual_clock<Clock>) slept = thread_sleep_detector::slept_since_last_dispatch();
    if (slept) counters_.thread_wakeups.add();
    if constexpr (observes_wakeups<Observer>) observer_.on_dispatcher_wakeup(slept);
    for (;;) {
      run_dispatcher();
      // Taken while we still hold the dispatcher: once it is released another thread may defer a batch of its own.
      batch_slot* const deferred = std::exchange(deferred_batch_, nullptr);
      std::uint32_t expected = dispatcher_running;
      if (dispatcher_state_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) {
        if (deferred) run_batch(*deferred);
        return;
      }
      deferred_batch_ = deferred;  // a rerun was asked for: still ours, run after the last pass
      dispatcher_state_.store(dispatcher_running, std::memory_order_release);  // clear the rerun request
    }
  }

  void run_dispatcher() {
    if (const std::uint8_t requested = requested_mode_.load(std::memory_order_acquire);
        requested > static_cast<std::uint8_t>(closing_))
      closing_ = static_cast<shutdown_mode>(requested);
    std::optional<duration> wake_late;  // this pass's timer wake-up, learned from after its decisions
    if (timer_armed_ && fired_generation_.load(std::memory_order_acquire) == timer_generation_) {
      timer_armed_ = false;
      counters_.timer_fires.add();
      wake_late = timer_wake_lateness();
    }
    collect_finished_batches();
    time_point next_look = time_point::max();
    drain_queue();
    for (;;) {
      const time_point now = decided_at_ = Clock::now();
      if constexpr (counter_stamps) counter_arrivals::observe(now);
      if (cancellations_.exchange(false, std::memory_order_acq_rel)) sweep_cancelled();
      if (closing_ == shutdown_mode::cancel) cancel_waiting();
      expire(now);
      const std::size_t needed = decide_all(now, next_look);
      const bool arrived = publish_and_recheck(needed, next_look);
      if (!arrived && !std::exchange(decide_again_, false) && !wait_until_due(next_look)) break;
    }
    // Only now: a lead lowered by this sample must not stop this pass's wait for the decision the timer woke it for.
    if (wake_late) learn_wake_lateness(*wake_late);
    arm_timer(next_look);
    finish_shutdown_if_done();
  }

  // Moves queued requests straight into free slab slots (no intermediate buffer), then files them in their
  // lanes. Returns how many arrived.
  std::size_t drain_queue() {
    drained_.clear();
    drained_urgent_ = false;
    drained_earliest_deadline_ = time_point::max();
    if constexpr (bulk_poppable_queue<typename Queue::template queue<request_type>, request_type>) {
      // The slab has a free slot for every admitted request, so it can take whatever the queue holds.
      while (queue_.try_pop_bulk(slab_inserter{this}, free_slab_.size()) > 0) {
      }
    } else {
      request_type r;
      while (!free_slab_.empty() && queue_.try_pop(r)) {
        note_drained(free_slab_.back(), r);
        slab_[free_slab_.back()] = std::move(r);
        free_slab_.pop_back();
      }
    }
    if (drained_.empty()) return 0;
    drained_total_ += static_cast<std::uint32_t>(drained_.size());
    if constexpr (counter_stamps) convert_counter_stamps();
    file_drained();
    counters_.accepted.add(drained_.size());
    return drained_.size();
  }

  // An output iterator for try_pop_bulk that stores each request in a free slab slot.
  struct slab_inserter {
    using iterator_category = std::output_iterator_tag;
    using value_type = void;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = void;
    batcher_core* core;
    slab_inserter& operator*() noexcept { return *this; }
    slab_inserter& operator++() noexcept { return *this; }
    slab_inserter operator++(int) noexcept { return *this; }
    slab_inserter& operator=(request_type&& r) {
      POWERBATCH_ASSERT(!core->free_slab_.empty(), "admission count and slab size disagree");
      const std::uint32_t slot = core->free_slab_.back();
      core->free_slab_.pop_back();
      core->note_drained(slot, r);  // from the popped request: the slab copy's fresh stores would stall the loads
      core->slab_[slot] = std::move(r);
      return *this;
    }
  };

  // What filing needs of a drained request, copied out once: ordering and filing then read this array front to
  // back instead of the requests themselves, scattered over the slab.
  struct drained_request {
    time_point arrival;
    time_point deadline;
    batching_key key;
    std::uint32_t slot;
    arrival_order order;
    priority_level priority;
    bool counter_stamped;
    bool deadline_after_arrival;
  };

  void note_drained(std::uint32_t slot, const request_type& r) {
    drained_.push_back(drained_request{r.arrival, r.deadline, r.key, slot, r.order, r.priority, r.counter_stamped,
                                       r.deadline_after_arrival});
  }

  // Turns this drain's counter stamps into steady_clock arrivals, from one pair read after the last pop so that
  // every stamp is older than it. (Only drained_ keeps the arrival: the slab's copy is never read again.)
  // A timeout kept by check_deadline() becomes a deadline here, from the converted arrival (so, late too).
  void convert_counter_stamps() {
    const counter_pair pair = last_pair_ = counter_arrivals::read_pair();
    for (drained_request& r : drained_) {
      if (!r.counter_stamped) continue;
      r.arrival = pair.to_time(static_cast<std::uint64_t>(r.arrival.time_since_epoch().count()));
      if (r.deadline_after_arrival) {
        const duration timeout = r.deadline.time_since_epoch();
        r.deadline = timeout < time_point::max() - r.arrival ? r.arrival + timeout : time_point::max();
      }
    }
  }

  // Files drained requests in their lanes in arrival order. A request's time is no earlier than that of any request
  // admitted before it: stamps taken on two CPUs, or one taken just before another thread's admission, can be out
  // of step by nanoseconds, and lanes keep their times in order. (Late, never early: max_delay is not cut short.)
  void file_drained() {
    order_by_arrival();
    time_point latest = time_point::min();
    for (drained_request& r : drained_) {
      latest = r.arrival = std::max(latest, r.arrival);
      lane& l = lane_for(r.key);
      const std::uint64_t sequence = next_sequence_++;
      l.waiting.push(pending_entry{r.slot, r.priority, r.arrival, r.deadline, sequence});
      if (r.deadline != time_point::max()) l.deadlines.add(r.deadline, r.slot, sequence, filed_sequence_);
      if (is_urgent(r.priority)) {
        ++l.urgent;
        drained_urgent_ = true;
      }
      if (r.priority >= priority_levels::low) ++l.deferrable;
      drained_earliest_deadline_ = std::min(drained_earliest_deadline_, r.deadline);
      ++waiting_;
    }
  }

  // A per-producer queue drains producer by producer: drained_ is a few runs, each already in arrival order.
  // Merging them pairwise is linear for the usual two or three runs, and the buffers are reused (no allocation).
  // Arrival order is each request's `order` (the counter's ordered read, or the admission number), not the arrival
  // stamps' times.
  void order_by_arrival() {
    auto older = [](const drained_request& a, const drained_request& b) { return ordered_before(a.order, b.order); };
    const std::size_t n = drained_.size();
    run_starts_.clear();
    run_starts_.push_back(0);
    for (std::size_t i = 1; i < n; ++i)
      if (older(drained_[i], drained_[i - 1])) run_starts_.push_back(i);
    run_starts_.push_back(n);
    while (run_starts_.size() > 2) {
      merge_buffer_.resize(n);
      merged_starts_.clear();
      const std::size_t runs = run_starts_.size() - 1;
      for (std::size_t k = 0; k < runs; k += 2) {
        const std::size_t first = run_starts_[k], middle = run_starts_[k + 1];
        const std::size_t last = k + 2 <= runs ? run_starts_[k + 2] : middle;
        std::merge(drained_.begin() + static_cast<std::ptrdiff_t>(first),
                   drained_.begin() + static_cast<std::ptrdiff_t>(middle),
                   drained_.begin() + static_cast<std::ptrdiff_t>(middle),
                   drained_.begin() + static_cast<std::ptrdiff_t>(last),
                   merge_buffer_.begin() + static_cast<std::ptrdiff_t>(first), older);
        merged_starts_.push_back(first);
      }
      merged_starts_.push_back(n);
      drained_.swap(merge_buffer_);
      run_starts_.swap(merged_starts_);
    }
  }

  bool is_urgent(priority_level p) const noexcept { return p < urgent_below_; }

  lane& lane_for(batching_key key) {
    if (last_lane_ && last_lane_->key == key) return *last_lane_;
    lane* reusable = nullptr;
    for (auto& l : lanes_) {
      if (l->key == key) return *(last_lane_ = l.get());
      if (!reusable && l->waiting.empty() && !lane_has_running_batch(*l)) reusable = l.get();
    }
    // Keys come and go (per-model, per-tenant); reuse an idle lane rather than grow without bound.
    if (reusable && lanes_.size() >= 16) {
      reusable->key = key;
      reusable->generation = ++lane_generation_;
      reusable->timeout.emplace(config_.timeout);
      reusable->urgent = 0;
      reusable->deferrable = 0;
      reusable->deadlines.clear();
      return *(last_lane_ = reusable);
    }
    lanes_.push_back(std::make_unique<lane>(key, config_, ++lane_generation_));
    return *(last_lane_ = lanes_.back().get());
  }

  bool lane_has_running_batch(const lane& l) const noexcept {
    for (const auto& s : slots_)
      if (s.owner == &l && s.state.load(std::memory_order_acquire) != slot_state::free) return true;
    return false;
  }

  // Completes a waiting request that will not reach the backend. The dispatcher runs on the default
  // executor, so handlers without an executor of their own are invoked inline.
  void finish_waiting(const pending_entry& entry, errc error) {
    parked_type& r = slab_[entry.slot];
    count_error(error);
    r.done.complete(error, output_type{}, {}, nullptr);
    r.input = input_type{};
    release_entry(entry);
  }

  // Bookkeeping shared by every way an entry leaves its lane.
  void release_entry(const pending_entry& entry) {
    free_slab_.push_back(entry.slot);
    --waiting_;
    ++left_since_publish_;
    release_lane_counts(*current_lane_, entry);
  }

  // The lane's counts of urgent, deferrable and deadline-carrying entries; a plain entry changes none of them.
  void release_lane_counts(lane& l, const pending_entry& entry) noexcept {
    if (is_urgent(entry.priority)) --l.urgent;
    if (entry.priority >= priority_levels::low) --l.deferrable;
    if (entry.deadline != time_point::max()) l.deadlines.remove(entry.slot, filed_sequence_);
  }

  void count_error(errc error, std::size_t n = 1) noexcept {
    if constexpr (observes_rejections<Observer>) observer_.on_rejected(error, n);
    switch (error) {
      case errc::queue_full: counters_.queue_full.add(n); break;
      case errc::deadline_expired: counters_.deadline_expired.add(n); break;
      case errc::cancelled: counters_.cancelled.add(n); break;
      case errc::shutting_down: counters_.shutting_down.add(n); break;
      case errc::invalid_argument: counters_.invalid_input.add(n); break;
      default: break;
    }
  }

  template <class Pred>
  void erase_waiting(lane& l, Pred&& pred, errc error) {
    current_lane_ = &l;
    l.waiting.erase_if(pred, [&](const pending_entry& e) { finish_waiting(e, error); });
  }

  void sweep_cancelled() {
    for (auto& l : lanes_)
      erase_waiting(
          *l,
          [this](const pending_entry& e) {
            const cancel_state* c = slab_[e.slot].done.cancellation();
            return c != nullptr && c->cancelled();
          },
          errc::cancelled);
  }

  void cancel_waiting() {
    for (auto& l : lanes_) erase_waiting(*l, [](const pending_entry&) { return true; }, errc::shutting_down);
  }

  time_point earliest_deadline(lane& l) { return l.deadlines.earliest(filed_sequence_); }

  void expire(time_point now) {
    for (auto& l : lanes_) {
      if (earliest_deadline(*l) > now) continue;
      erase_waiting(*l, [now](const pending_entry& e) { return e.deadline <= now; }, errc::deadline_expired);
    }
  }

  // Runs every lane's decisions; launches batches; returns how many more arrivals could change a decision and
  // lowers `next_look` to the earliest instant one could.
  std::size_t decide_all(time_point now, time_point& next_look) {
    next_look = time_point::max();
    std::size_t needed = unlimited;
    bool blocked = false;
    bool recheck_on_completion = false;
    in_flight_seen_ = running_batches();
    const std::size_t count = lanes_.size();
    for (std::size_t k = 0; k < count; ++k) {
      lane& l = *lanes_[(round_robin_ + k) % count];
      while (!l.waiting.empty() && !blocked) {
        const decision d = decide(l, now);
        if (!d.flushes()) {
          next_look = std::min(next_look, d.wake_at);
          if (d.recheck_on_batch_complete && in_flight_seen_ > 0) {
            recheck_on_completion = true;
            break;
          }
          const std::size_t size = l.waiting.size();
          if (d.wake_at_pending != unlimited) needed = std::min(needed, d.wake_at_pending > size ? d.wake_at_pending - size : 1);
          if (d.wake_at == time_point::max() && d.wake_at_pending == unlimited) needed = 1;  // decides on arrivals
          break;
        }
        batch_slot* slot = acquire_slot();
        if (slot == nullptr) {
          blocked = true;  // a finishing batch wakes us
          break;
        }
        launch(l, *slot, d.flush_count, d.reason, now);
        in_flight_seen_ = running_batches();
      }
      if (!l.waiting.empty()) next_look = std::min(next_look, earliest_deadline(l));
    }
    if (count) round_robin_ = (round_robin_ + 1) % count;
    if (blocked) needed = unlimited;
    if (recheck_on_completion && !blocked) {
      // Like acquire_slot(): ask finishing batches to wake us, then make sure none finished before we asked.
      waiting_for_slot_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (running_batches() < in_flight_seen_) decide_again_ = true;  // one finished meanwhile
    }
    return needed;
  }

  std::size_t running_batches() const noexcept {
    const auto running = counters_.in_flight.load(std::memory_order_acquire);
    return running > 0 ? static_cast<std::size_t>(running) : 0;
  }

  decision decide(lane& l, time_point now) {
    const std::size_t size = l.waiting.size();
    const std::size_t cap = backend_cap_;
    if (closing_ == shutdown_mode::drain || l.urgent > 0) {
      // Flush now, but batches no larger than the policy's own: ask it as if its window had closed.
      const lane_view closed{size, l.waiting.oldest_arrival(), earliest_deadline(l), time_point::max(), cap,
                             in_flight_seen_, l.deferrable};
      const decision d = l.timeout->decide(closed);
      const std::size_t n = d.flushes() ? std::min({d.flush_count, size, cap}) : std::min(size, cap);
      return decision::flush(n, closing_ == shutdown_mode::drain ? flush_reason::shutdown : flush_reason::priority);
    }
    const lane_view view{size, l.waiting.oldest_arrival(), earliest_deadline(l), now, cap, in_flight_seen_,
                         l.deferrable};
    decision d = l.timeout->decide(view);
    if (d.flush_count > 0) d.flush_count = std::min({d.flush_count, size, cap});
    return d;
  }

  batch_slot* acquire_slot() {
    for (int attempt = 0; attempt < 2; ++attempt) {
      for (auto& s : slots_) {
        slot_state st = s.state.load(std::memory_order_acquire);
        if (st == slot_state::finished) {
          give_feedback(s);
          st = slot_state::free;
        }
        if (st == slot_state::free) {
          s.state.store(slot_state::running, std::memory_order_relaxed);
          if (attempt == 1 && closing_ == static_cast<shutdown_mode>(0))
            waiting_for_slot_.store(false, std::memory_order_relaxed);
          return &s;
        }
      }
      if (attempt == 0) {
        // Ask finishing batches to wake us, then look once more so a batch that finished meanwhile is not missed.
        waiting_for_slot_.store(true, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
      }
    }
    return nullptr;
  }

  void collect_finished_batches() {
    for (auto& s : slots_)
      if (s.state.load(std::memory_order_acquire) == slot_state::finished) {
        give_feedback(s);
        s.state.store(slot_state::free, std::memory_order_relaxed);
      }
  }

  void give_feedback(batch_slot& s) {
    if constexpr (learns_from_feedback<typename Timeout::state>) {
      if (s.owner && s.owner->generation == s.owner_generation && s.owner->timeout)
        s.owner->timeout->on_batch_complete(
            batch_feedback{s.size, s.service_time, s.dispatched_at - s.oldest_arrival, static_cast<bool>(s.error)});
    }
    s.owner = nullptr;
  }

  void launch(lane& l, batch_slot& slot, std::size_t count, flush_reason reason, time_point now) {
    current_lane_ = &l;
    slot.inputs.clear();
    slot.completions.clear();
    slot.submitters.clear();
    slot.submitter_mask = 0;
    if constexpr (observes_batches<Observer>) slot.arrivals.clear();
    time_point oldest = time_point::max();
    while (slot.inputs.size() < count && !l.waiting.empty()) {
      // Take the entries first and prefetch their requests, so that the slab misses overlap (measured: the first
      // read of each request was most of launch()'s time once two producers' requests interleaved).
      launching_.clear();
      const std::size_t wanted = count - slot.inputs.size();
      if constexpr (bulk_poppable_priority_container<decltype(l.waiting)>) {
        l.waiting.pop_up_to(wanted, now, launching_);
      } else {
        while (launching_.size() < wanted && !l.waiting.empty()) launching_.push_back(l.waiting.pop(now));
      }
      for (const pending_entry& entry : launching_) prefetch_object(&slab_[entry.slot]);
      for (const pending_entry& entry : launching_) {
        parked_type& r = slab_[entry.slot];
        if (entry.deadline <= now) {
          finish_waiting(entry, errc::deadline_expired);
          continue;
        }
        if (cancel_state* c = r.done.cancellation(); c != nullptr && !c->claim()) {
          finish_waiting(entry, errc::cancelled);
          continue;
        }
        oldest = std::min(oldest, entry.arrival);
        if constexpr (observes_batches<Observer>) slot.arrivals.push_back(entry.arrival);
        slot.inputs.push_back(std::move(r.input));
        slot.completions.push_back(std::move(r.done));
        slot.submitters.push_back(r.submitter);
        slot.submitter_mask |= std::uint32_t{1} << r.submitter;
        free_slab_.push_back(entry.slot);
        release_lane_counts(l, entry);
      }
    }
    waiting_ -= slot.inputs.size();  // release_entry()'s counts, once per batch; finish_waiting() counted its own
    left_since_publish_ += slot.inputs.size();
    if (slot.inputs.empty()) {
      slot.state.store(slot_state::free, std::memory_order_relaxed);
      return;
    }
    slot.size = slot.inputs.size();
    slot.owner = &l;
    slot.owner_generation = l.generation;
    slot.key = l.key;
    slot.reason = reason;
    slot.dispatched_at = now;
    slot.oldest_arrival = oldest;
    counters_.record_batch(slot.inputs.size(), reason);
    counters_.in_flight.fetch_add(1, std::memory_order_relaxed);
    start_batch(slot);
  }

  // When batches run on the dispatcher's own executor, the first batch a dispatcher run launches runs right after
  // that run, in the same handler (enter_dispatcher()): it would otherwise be posted and run next on this thread
  // anyway, after a trip round the executor's queue (a handler and, on an io_context, often an epoll_wait system
  // call per batch). Later batches are posted, so that other threads of the executor can take them; they run after
  // the first, in launch order.
  void start_batch(batch_slot& slot) {
    if (compute_is_default_ && deferred_batch_ == nullptr) {
      deferred_batch_ = &slot;
      return;
    }
    post_internal(compute_executor_, slot.run_memory,
                  [self = this->shared_from_this(), &slot] { self->run_batch(slot); });
  }

  // Publishes when producers must wake us, then looks for what producers admitted before they could see it.
  // Returns true if such arrivals change a decision, by the producers' own test in after_push(): together they
  // reach the threshold, or one is urgent, or one's deadline comes before next_look. Plain arrivals below the
  // threshold stay in the queue until an event that matters, as if they had come a moment later: re-draining a
  // busy queue after every pass kept the dispatcher a few requests behind the producers, reading the cache
  // lines they were writing (measured: most of the dispatcher's time).
  bool publish_and_recheck(std::size_t needed, time_point next_look) {
    if (left_since_publish_) {
      if (grouped_)
        grouped_admission_.give_back(left_since_publish_);
      else
        admitted_.fetch_sub(left_since_publish_, std::memory_order_seq_cst);
      left_since_publish_ = 0;
    }
    constexpr std::uint64_t never = admission_groups::unlimited;
    std::uint64_t arrivals_needed;  // arrivals not yet drained that change a decision
    if (closing_ != static_cast<shutdown_mode>(0) || waiting_ == 0)
      arrivals_needed = 1;  // any arrival matters
    else
      arrivals_needed = needed == unlimited ? never : needed;
    // The same, counted as the shared count counts: requests admitted and not yet left.
    const std::uint64_t threshold = arrivals_needed == never ? never : waiting_ + arrivals_needed;
    bool crossed = false;
    if (grouped_)
      crossed = !grouped_admission_.publish(drained_total_, arrivals_needed);
    else
      wake_threshold_.store(threshold, std::memory_order_seq_cst);
    next_look_.store(next_look.time_since_epoch().count(), std::memory_order_seq_cst);
    if constexpr (counter_stamps) {
      // From the last drain's pair: its age adds an error of the clock's slew (NTP: at most 5e-4 of the distance),
      // which the margin covers. A fresh pair would cost a clock read per pass.
      if (next_look != time_point::max() && last_pair_.scale <= 0) last_pair_ = counter_arrivals::read_pair();
      next_look_count_.store(last_pair_.count_at(next_look, next_look_margin), std::memory_order_seq_cst);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::uint64_t attention = attention_.load(std::memory_order_seq_cst);
    if (grouped_) {
      crossed = crossed || grouped_admission_.recheck();
    } else {
      // Above capacity_ are only producers about to take back a refused admission: they never reach the queue.
      const std::uint64_t admitted = std::min<std::uint64_t>(admitted_.load(std::memory_order_seq_cst) & count_mask,
                                                             capacity_);
      crossed = admitted >= threshold;
    }
    if (attention == attention_seen_ && !crossed) return false;
    attention_seen_ = attention;  // every request counted by it has been pushed: this drain files it
    drain_queue();
    if (waiting_ >= threshold || drained_urgent_ || drained_earliest_deadline_ < next_look) return true;
    // Admitted by count, not yet visible in the queue: their producers are between admission and push (or gave
    // the place back). Look again once they are through, instead of waiting here.
    if (crossed) post_wake();
    return false;
  }

  // With a timer lead (timer_lead(): configured or learned), a decision due within it is waited for here, busily,
  // instead of by a timer wake-up that would come late. Returns true if it waited (the caller decides again, now on
  // time).
  bool wait_until_due(time_point due) {
    if constexpr (virtual_clock<Clock>) {
      return false;
    } else {
      const duration lead = timer_lead();
      if (lead <= duration::zero() || due == time_point::max()) return false;
      time_point now = Clock::now();
      if (due <= now || due - now > lead) return false;  // due already: the caller's timer fires now
      const time_point started = now;
      do {
        cpu_relax();
        now = Clock::now();
      } while (now < due);
      counters_.busy_waits.add();
      counters_.busy_wait_ns.add(static_cast<std::uint64_t>(std::chrono::nanoseconds(now - started).count()));
      return true;
    }
  }

  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  void arm_timer(time_point at) {
    if (at == time_point::max()) {
      if (timer_armed_) {
        ++timer_generation_;
        timer_armed_ = false;
        timer_.cancel();
      }
      return;
    }
    if (timer_armed_ && armed_at_ == at) return;
    if constexpr (virtual_clock<Clock>) {
      timer_.expires_at(at);
    } else {
      const duration lead = timer_lead();
      armed_expiry_ = lead > duration::zero() && at > time_point::min() + lead ? at - lead : at;
      // Only a wait that starts before its expiry measures a wake-up's lateness (timer_wake_lateness). The last
      // decision's time stands in for the clock: a few µs old at most, so at worst a sample too small is kept.
      expiry_ahead_ = armed_expiry_ > decided_at_;
      timer_.expires_at(armed_expiry_);
    }
    timer_armed_ = true;
    armed_at_ = at;
    counters_.timers_armed.add();
    // Re-arming cancels the previous wait, whose aborted completion may still be queued behind other handlers, and
    // a busy dispatcher can re-arm several times before those run: take a block no wait still holds.
    handler_memory* memory = &timer_memory_[0];
    for (handler_memory& m : timer_memory_)
      if (!m.in_use.load(std::memory_order_acquire)) {
        memory = &m;
        break;
      }
    timer_.async_wait(boost::asio::bind_allocator(
        handler_allocator<void>(memory),
        [self = this->shared_from_this(), generation = ++timer_generation_](boost::system::error_code ec) {
          self->on_timer(ec, generation);
        }));
  }

  static std::int64_t nanoseconds_of(duration d) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  }

  // How early the timer fires before a timed decision: the configured lead, or the learned one if larger.
  duration timer_lead() const noexcept { return std::max(config_.timer_lead, wake_lateness_.lead()); }

  // How late a fired timer woke this pass, from its expiry, if the learned lead takes it (a real clock only).
  std::optional<duration> timer_wake_lateness() const {
    if constexpr (!virtual_clock<Clock>)
      if (config_.max_learned_timer_lead > duration::zero() && expiry_ahead_) return Clock::now() - armed_expiry_;
    return std::nullopt;
  }

  void learn_wake_lateness(duration lateness) {
    wake_lateness_.record(lateness);
    counters_.timer_lead_ns.store(nanoseconds_of(timer_lead()), std::memory_order_relaxed);
  }

  void finish_shutdown_if_done() {
    if (closing_ == static_cast<shutdown_mode>(0)) return;
    // Every batch completion must wake us until the last one is done.
    waiting_for_slot_.store(true, std::memory_order_seq_cst);
    if (waiting_ != 0 || counters_.in_flight.load(std::memory_order_acquire) != 0 || admissions_outstanding()) return;
    arm_timer(time_point::max());
    std::vector<boost::asio::any_completion_handler<void()>> waiters;
    {
      std::lock_guard lock(shutdown_mutex_);
      waiters.swap(shutdown_waiters_);
    }
    for (auto& waiter : waiters) boost::asio::post(default_executor_, std::move(waiter));
  }

  // ---- compute side ---------------------------------------------------------------------------------------------

  void run_batch(batch_slot& slot) {
    const std::size_t n = slot.inputs.size();
    slot.outputs.clear();
    slot.outputs.resize(n);
    slot.error.clear();
    const time_point started = Clock::now();
    try {
      backend_.run(std::span<input_type>(slot.inputs), std::span<output_type>(slot.outputs));
    } catch (const std::exception& e) {
      slot.error = errc::backend_failed;
      slot.error_message = e.what();
    } catch (...) {
      slot.error = errc::backend_failed;
      slot.error_message = "backend threw a non-standard exception";
    }
    const time_point finished = Clock::now();
    slot.service_time = finished - started;
    counters_.busy_ns.add(static_cast<std::uint64_t>(nanoseconds_of(slot.service_time)));
    if constexpr (observes_batches<Observer>)
      observer_.on_batch(batch_record{slot.key, n, slot.reason, static_cast<bool>(slot.error), slot.dispatched_at,
                                      started, finished, std::span<const time_point>(slot.arrivals)});
    if (compute_is_default_)
      deliver(slot);
    else
      post_internal(default_executor_, slot.deliver_memory,
                    [self = this->shared_from_this(), &slot] { self->deliver(slot); });
  }

  // Calls f(i) for every request of the batch, one submitter group after another (one pass per group present: at
  // most submitter_groups, and one in the common case).
  template <class F>
  static void for_each_by_submitter(const batch_slot& slot, F&& f) {
    const std::size_t n = slot.submitters.size();
    if (std::has_single_bit(slot.submitter_mask)) {
      for (std::size_t i = 0; i < n; ++i) f(i);
      return;
    }
    for (std::uint32_t groups = slot.submitter_mask; groups != 0; groups &= groups - 1) {
      const auto group = static_cast<std::uint8_t>(std::countr_zero(groups));
      for (std::size_t i = 0; i < n; ++i)
        if (slot.submitters[i] == group) f(i);
    }
  }

  // Runs on the default executor: completes every request of the batch, then returns the slot.
  void deliver(batch_slot& slot) {
    const std::size_t n = slot.completions.size();
    if (slot.error) {
      {
        std::lock_guard lock(last_error_mutex_);
        last_error_ = slot.error_message;
      }
      counters_.backend_failed.add(n);
      for_each_by_submitter(slot, [&](std::size_t i) {
        slot.completions[i].complete(slot.error, output_type{}, slot.error_message, nullptr);
      });
    } else {
      counters_.completed.add(n);
      for_each_by_submitter(slot, [&](std::size_t i) {
        slot.completions[i].complete({}, std::move(slot.outputs[i]), {}, nullptr);
      });
    }
    slot.inputs.clear();
    counters_.in_flight.fetch_sub(1, std::memory_order_release);
    slot.state.store(slot_state::finished, std::memory_order_release);
    // Pairs with acquire_slot(): either it sees the slot finished, or we see that it waits for one.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (waiting_for_slot_.load(std::memory_order_relaxed) && waiting_for_slot_.exchange(false)) post_wake();
  }

  // ---- state ------------------------------------------------------------------------------------------------------

  const config_type config_;
  const std::size_t capacity_;
  // is_urgent(p) is p < urgent_below_ (0 when urgent requests do not flush at once).
  const unsigned urgent_below_ = config_.high_priority_flushes ? config_.urgent_priority + 1u : 0u;

  // Which admission this batcher uses (admission_mode): fixed at construction.
  const bool grouped_ = config_.admission == admission_mode::grouped && counter_order::trusted();
  using admission_groups = grouped_admission<submitter_groups>;
  admission_groups grouped_admission_{capacity_};  // used when grouped_
  // Written by producers on every request (under a shared count); kept apart from each other and from
  // dispatcher-only state.
  alignas(POWERBATCH_CACHE_LINE) std::atomic<std::uint64_t> admitted_{0};  // see closed_bit's comment
  std::atomic<std::uint64_t> attention_{0};  // pushes of urgent or deadline-carrying requests (after_push)
  alignas(POWERBATCH_CACHE_LINE) std::atomic<std::uint64_t> wake_threshold_{1};
  std::atomic<duration::rep> next_look_{std::numeric_limits<duration::rep>::max()};
  // next_look_ as the CPU counter will read it, for producers' timeouts (deadline_before_next_look).
  std::atomic<std::uint64_t> next_look_count_{std::numeric_limits<std::uint64_t>::max()};
  alignas(POWERBATCH_CACHE_LINE) std::atomic<bool> wake_posted_{false};
  std::atomic<bool> cancellations_{false};
  std::atomic<bool> waiting_for_slot_{false};
  std::atomic<std::uint8_t> requested_mode_{0};  // the strongest shutdown_mode asked for (0: none)
  alignas(POWERBATCH_CACHE_LINE) typename Queue::template queue<request_type> queue_;

  alignas(POWERBATCH_CACHE_LINE) executor_type default_executor_;
  executor_type compute_executor_;
  const bool compute_is_default_;
  static constexpr std::uint32_t dispatcher_running = 1, dispatcher_rerun = 2;
  std::atomic<std::uint32_t> dispatcher_state_{0};
  std::atomic<std::uint64_t> fired_generation_{0};
  handler_memory wake_memory_;
  handler_memory timer_memory_[4];  // measured: two were not enough under a steady load of deadlines
  boost::asio::basic_waitable_timer<Clock> timer_;
  Backend backend_;
  std::size_t backend_cap_ = unlimited;

  // Dispatcher-only.
  std::vector<parked_type> slab_;
  std::vector<std::uint32_t> free_slab_;
  std::vector<drained_request> drained_;  // what the current drain put in the slab
  std::vector<drained_request> merge_buffer_;
  std::vector<pending_entry> launching_;  // the entries launch() is taking, grown once to the largest batch
  std::vector<std::size_t> run_starts_, merged_starts_;
  std::vector<std::unique_ptr<lane>> lanes_;
  lane* last_lane_ = nullptr;
  lane* current_lane_ = nullptr;
  batch_slot* deferred_batch_ = nullptr;  // launched by this dispatcher run, to run when it ends (start_batch)
  std::uint64_t lane_generation_ = 0;
  std::size_t round_robin_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::uint32_t drained_total_ = 0;  // requests drained so far, wrapping (grouped_admission::publish)
  // Per slab slot, the sequence its waiting entry was filed with when it carries a deadline (waiting_deadlines).
  std::vector<std::uint64_t> filed_sequence_ = std::vector<std::uint64_t>(capacity_, waiting_deadlines::no_entry);
  std::size_t waiting_ = 0;             // requests in lanes
  std::size_t left_since_publish_ = 0;  // left their lanes since their admissions were last given back
  std::size_t in_flight_seen_ = 0;      // running batches as the current decisions saw them
  bool decide_again_ = false;           // a batch a policy waits on finished while it decided
  std::uint64_t attention_seen_ = 0;    // attention_ when the dispatcher last drained after reading it
  bool drained_urgent_ = false;         // the last drain_queue() filed an urgent request
  time_point drained_earliest_deadline_ = time_point::max();  // the earliest deadline it filed
  counter_pair last_pair_{};  // the latest drain's (counter, clock) pair, for next_look_count_
  bool timer_armed_ = false;
  time_point armed_at_{};      // the decision the timer is armed for
  time_point armed_expiry_{};  // when it fires: armed_at_ less the lead (timer_lead())
  bool expiry_ahead_ = false;  // armed_expiry_ was still to come when the timer was armed
  time_point decided_at_{};    // the clock's time at the latest decisions (run_dispatcher)
  wake_lateness wake_lateness_{config_.flush_lateness_target, config_.max_learned_timer_lead};
  std::uint64_t timer_generation_ = 0;
  shutdown_mode closing_ = static_cast<shutdown_mode>(0);
  std::mutex shutdown_mutex_;  // guards shutdown_waiters_, added to from any thread
  std::vector<boost::asio::any_completion_handler<void()>> shutdown_waiters_;

  std::vector<batch_slot> slots_;
  detail::batcher_counters counters_;
  [[no_unique_address]] Observer observer_;
  mutable std::mutex last_error_mutex_;
  std::string last_error_;
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
