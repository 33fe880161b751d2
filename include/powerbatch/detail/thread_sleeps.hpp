// Did this thread sleep since it last did dispatcher work? The wake-up a batcher costs is a thread leaving sleep to
// run its dispatcher; on Linux the kernel counts every voluntary context switch of a thread (getrusage with
// RUSAGE_THREAD, field ru_nvcsw), so a change in that count between two dispatcher runs means the thread slept.
// Elsewhere every dispatcher run is counted as a wake-up (an upper bound).
#pragma once

#include <powerbatch/config.hpp>

#include <cstdint>
#include <limits>

#if defined(__linux__)
#include <sys/resource.h>
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

// Voluntary context switches of the calling thread so far, or 0 where the platform does not say.
inline std::uint64_t thread_voluntary_switches() noexcept {
#if defined(__linux__) && defined(RUSAGE_THREAD)
  rusage usage{};
  if (::getrusage(RUSAGE_THREAD, &usage) == 0) return static_cast<std::uint64_t>(usage.ru_nvcsw);
#endif
  return 0;
}

inline constexpr bool thread_sleeps_measured =
#if defined(__linux__) && defined(RUSAGE_THREAD)
    true;
#else
    false;
#endif

// Per thread, shared by every batcher on it: two batchers that wake together cost one wake-up, not two. One system
// call per dispatcher run, at its start: a change since the previous start on this thread means the thread slept in
// between (waiting for work — or, rarely, blocked inside a backend that ran on this thread, which is counted too).
class thread_sleep_detector {
 public:
  static bool slept_since_last_dispatch() noexcept {
    if constexpr (!thread_sleeps_measured) {
      return true;
    } else {
      thread_local std::uint64_t last_seen = std::numeric_limits<std::uint64_t>::max();  // the first run counts
      const std::uint64_t now = thread_voluntary_switches();
      const bool slept = now != last_seen;
      last_seen = now;
      return slept;
    }
  }
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
