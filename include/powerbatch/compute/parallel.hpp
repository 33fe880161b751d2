// compute::parallel_options and the split of one dense_forward call over threads of the user's executor.
//
// The split: a batch of at least 2 x min_rows_per_thread rows is cut into contiguous row ranges (every part
// streams all weights, but from L3 after the first, and is FMA-bound). A smaller batch is memory-bound on the
// weights, so it is cut by output channels instead (whole 16-channel panels): each thread streams only its share
// of the weights, which is what lets a second core help a layer at batch 1-8. A part is never smaller than
// min_work_per_part multiply-adds, so small layers stay on the caller.
//
// The protocol never waits for a thread that may not come: parts are posted to the executor as "help" handlers,
// the caller then claims parts itself until none is left, and waits only for parts other threads claimed and are
// running. If the executor's only thread is the caller (its own io_context), the caller runs every part and the
// posted handlers later find nothing to do. The shared state is reference-counted so such late handlers never
// touch freed memory, and it is recycled per calling thread, so steady state allocates nothing but Asio's
// (recycled) handler memory.
#pragma once

#include <powerbatch/compute/detail/block.hpp>
#include <powerbatch/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

struct parallel_options {
  boost::asio::any_io_executor executor{};  // empty: run on the calling thread only
  std::size_t max_threads = 1;              // total threads including the caller
  std::size_t min_rows_per_thread = 16;     // small batches stay on one core (or split by output channels)
};

namespace detail {

inline constexpr std::size_t max_split_parts = 64;
inline constexpr std::size_t min_work_per_part = std::size_t{1} << 17;  // multiply-adds (~10 us on one core)
inline constexpr std::size_t parts_per_thread = 2;

struct split_plan {
  std::size_t parts = 1;
  bool by_rows = true;

  block part(std::size_t k, std::size_t batch, std::size_t panels) const noexcept {
    if (by_rows) return block{k * batch / parts, (k + 1) * batch / parts, 0, panels};
    return block{0, batch, k * panels / parts, (k + 1) * panels / parts};
  }
};

inline split_plan plan_split(std::size_t batch, std::size_t in, std::size_t out, std::size_t panels,
                             const parallel_options& options) noexcept {
  split_plan plan;
  if (!options.executor || options.max_threads <= 1 || batch == 0) return plan;
  const std::size_t threads = options.max_threads;
  const std::size_t by_work = std::max<std::size_t>(1, batch * in * out / min_work_per_part);
  const std::size_t min_rows = std::max<std::size_t>(1, options.min_rows_per_thread);
  // parts_per_thread parts for each thread, taken first come first served: a helper that wakes late (or a core
  // busy with something else) then still takes a share instead of leaving the caller to wait for its one part.
  const std::size_t wanted = std::min(threads * parts_per_thread, max_split_parts);
  if (batch >= 2 * min_rows) {
    plan.parts = std::min({wanted, batch / min_rows, by_work});
    plan.by_rows = true;
  } else {
    plan.parts = std::min({wanted, panels, by_work});
    plan.by_rows = false;
  }
  return plan;
}

struct split_state {
  using run_fn = void (*)(void* context, std::size_t part);
  std::atomic<std::uint64_t> claimed{0};  // bit k: part k has been taken
  std::atomic<std::uint32_t> done{0};
  std::size_t parts = 0;
  run_fn run = nullptr;
  void* context = nullptr;

  // Takes and runs unclaimed parts until none is left.
  void work() noexcept {
    const std::uint64_t all = parts == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << parts) - 1;
    std::uint64_t seen = claimed.load(std::memory_order_acquire);
    while (seen != all) {
      const std::uint64_t free_bits = all & ~seen;
      const std::uint64_t bit = free_bits & (~free_bits + 1);
      if (claimed.compare_exchange_weak(seen, seen | bit, std::memory_order_acq_rel, std::memory_order_acquire)) {
        run(context, static_cast<std::size_t>(__builtin_ctzll(bit)));
        done.fetch_add(1, std::memory_order_acq_rel);
        done.notify_all();
        seen = claimed.load(std::memory_order_acquire);
      }
    }
  }
};

// A few states per calling thread, each reused once no late handler still holds it (handlers that found nothing
// to do may run after the call returned), so steady state does not allocate.
inline std::shared_ptr<split_state> acquire_split_state() {
  thread_local std::shared_ptr<split_state> cached[4];
  for (std::shared_ptr<split_state>& slot : cached) {
    if (slot && slot.use_count() == 1) {
      std::atomic_thread_fence(std::memory_order_acquire);  // pairs with the last holder's release of its reference
      return slot;
    }
  }
  for (std::shared_ptr<split_state>& slot : cached) {
    if (!slot) return slot = std::make_shared<split_state>();
  }
  return std::make_shared<split_state>();  // every slot still held by a late handler: a fresh one for this call
}

// Runs part(k) for k in [0, parts) on the caller and up to max_threads - 1 executor threads; returns when all are
// done.
// part must not throw.
template <typename Part>
void run_split(const parallel_options& options, std::size_t parts, Part& part) {
  std::shared_ptr<split_state> state = acquire_split_state();
  state->parts = parts;
  state->run = [](void* context, std::size_t k) { (*static_cast<Part*>(context))(k); };
  state->context = &part;
  state->done.store(0, std::memory_order_relaxed);
  state->claimed.store(0, std::memory_order_release);
  const std::size_t helpers = std::min(options.max_threads, parts) - 1;  // each helper takes parts until none is left
  for (std::size_t helper = 0; helper < helpers; ++helper) {
    try {
      boost::asio::post(options.executor, [state] { state->work(); });
    } catch (...) {
      break;  // could not enlist help: the caller's own work() below takes the remaining parts
    }
  }
  state->work();
  // Every part is claimed; wait for the ones other threads are still running.
  for (std::uint32_t finished = state->done.load(std::memory_order_acquire); finished != parts;
       finished = state->done.load(std::memory_order_acquire)) {
    state->done.wait(finished, std::memory_order_acquire);
  }
}

}  // namespace detail
}  // namespace compute
POWERBATCH_END_NAMESPACE
