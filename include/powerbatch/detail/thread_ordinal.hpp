// A small number for the calling thread: 0, 1, 2, ... in the order threads first ask. Shared by every batcher and
// queue in the process, so that "producer thread k" means the same thread to all of them.
#pragma once

#include <powerbatch/config.hpp>

#include <atomic>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

// Constant-initialised, so reading it costs no thread_local guard.
inline unsigned this_thread_ordinal() noexcept {
  static std::atomic<unsigned> next{0};
  constexpr unsigned unset = ~0u;
  thread_local unsigned ordinal = unset;
  if (ordinal == unset) ordinal = next.fetch_add(1, std::memory_order_relaxed) % (unset - 1);
  return ordinal;
}

}  // namespace detail
POWERBATCH_END_NAMESPACE
