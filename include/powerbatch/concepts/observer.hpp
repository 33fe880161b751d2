// Observer: what a batcher reports as it works, for metrics and the policy lab.
//
// Batcher's last template parameter. Every member is optional and detected with a requires-expression; a member the
// observer lacks costs nothing, and `no_observer` (the default) compiles every hook away — the batcher then does not
// even keep the arrival times of a batch.
//   void on_batch(const batch_record&)            after a batch's backend call, before its completions run; from the
//                                                 compute or default executor, possibly on several threads at once
//   void on_rejected(errc reason, std::size_t n)  `n` requests finished without reaching the backend (queue_full,
//                                                 deadline_expired, cancelled, shutting_down); from any thread
//   void on_dispatcher_wakeup(bool thread_slept)  one dispatcher run; `thread_slept` is true when its thread had
//                                                 slept since it last ran dispatcher work (Linux; true elsewhere)
// The batcher default-constructs its observer and hands it out by reference (Batcher::observer()); hooks must not
// block and must not call back into the batcher.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/concepts/diagnose.hpp>
#include <powerbatch/error.hpp>
#include <powerbatch/request_options.hpp>

#include <concepts>
#include <cstddef>
#include <span>

POWERBATCH_BEGIN_NAMESPACE

// One batch, as an observer sees it. `arrivals` is valid only during the call.
struct batch_record {
  batching_key key = 0;
  std::size_t size = 0;
  flush_reason reason = flush_reason::size;
  bool failed = false;                    // the backend threw: every request of the batch got errc::backend_failed
  time_point dispatched_at{};             // the dispatcher launched it
  time_point started_at{}, finished_at{}; // the backend call
  std::span<const time_point> arrivals;   // each request's submit time, in batch order
};

// The default: observes nothing, stores nothing.
struct no_observer {};

template <class O>
concept observes_batches = requires(O& o, const batch_record& r) { o.on_batch(r); };

template <class O>
concept observes_rejections = requires(O& o, errc e, std::size_t n) { o.on_rejected(e, n); };

template <class O>
concept observes_wakeups = requires(O& o, bool slept) { o.on_dispatcher_wakeup(slept); };

// A Batcher's observer must be default-constructible (the batcher owns it) and have at least one hook, unless it is
// no_observer: an observer whose hooks are all misspelt would otherwise watch nothing, silently.
template <class O>
concept batch_observer = std::default_initializable<O> &&
                         (std::same_as<O, no_observer> || observes_batches<O> || observes_rejections<O> ||
                          observes_wakeups<O>);

template <class O>
consteval bool diagnose_observer() {
  if constexpr (!std::default_initializable<O>) {
    static_assert(concepts_detail::dependent_false<O>, "Observer must be default-constructible (the batcher owns it)");
    return false;
  } else if constexpr (!batch_observer<O>) {
    static_assert(concepts_detail::dependent_false<O>,
                  "Observer must provide on_batch(const batch_record&), on_rejected(errc, std::size_t) or "
                  "on_dispatcher_wakeup(bool)");
    return false;
  } else {
    return true;
  }
}

POWERBATCH_END_NAMESPACE
