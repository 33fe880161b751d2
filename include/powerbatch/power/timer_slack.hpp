// power::set_thread_timer_slack — lets the kernel delay this thread's timer wake-ups by up to `slack` so that it
// can serve several with one wake-up (fewer C-state exits, less energy).
//
// Linux: prctl(PR_SET_TIMERSLACK), per thread, inherited by threads it creates. The default is 50 us; real-time
// threads (SCHED_FIFO / SCHED_RR) ignore it; a slack of zero restores the thread's default. It applies to the
// waits the thread makes with a timeout: nanosleep, poll/select/epoll_wait timeouts, futex waits (condition
// variables with a deadline). It does NOT apply to timerfd timers, which the kernel starts with no slack range
// (fs/timerfd.c: hrtimer_start). Asio on Linux arms its timers on a timerfd by default (BOOST_ASIO_HAS_TIMERFD),
// so the slack does not delay steady_timer expiries there; define BOOST_ASIO_DISABLE_TIMERFD and Asio waits in
// epoll_wait with a (millisecond-rounded) timeout instead, which honours the slack. It is the one tolerance the
// library can set without owning the wait, which is why runner::options offers it.
//
// Elsewhere it returns platform_errc::timer_slack_not_supported (equal to std::errc::not_supported): the other
// platforms attach tolerance to each timer, not to a thread, so it would have to be set where the wait is made:
//   Apple: dispatch_source_set_timer(source, start, interval, leeway) — the leeway argument of the timer that
//          wakes the dispatcher, i.e. in an executor built on a dispatch queue, which powerbatch does not own.
//   Windows: SetWaitableTimerEx(timer, due, 0, nullptr, nullptr, nullptr, tolerable_delay_ms) — in the waitable
//          timer behind the wait. Asio's Windows io_context drives its timers from one waitable timer that it
//          arms with plain SetWaitableTimer (boost/asio/detail/impl/win_iocp_io_context.ipp): that call, inside
//          Asio, is where the tolerable delay would go; powerbatch's own threads make no timed wait of their own.
// The batcher's own timer (one per flush decision) goes through the user's executor, so on those platforms
// tolerance is the executor's business; powerbatch instead widens its flush windows and aligns them to a grid.
#pragma once

#include <powerbatch/power/platform/error.hpp>

#include <chrono>
#include <system_error>

#if defined(__linux__)
#include <sys/prctl.h>

#include <cerrno>
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace power {

// Linux: the slack is rounded to whole nanoseconds, and a negative slack is std::errc::invalid_argument.
inline std::error_code set_thread_timer_slack(std::chrono::nanoseconds slack) noexcept {
  if (slack.count() < 0) return std::make_error_code(std::errc::invalid_argument);
#if defined(__linux__)
  if (::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack.count()), 0UL, 0UL, 0UL) != 0)
    return std::error_code(errno, std::generic_category());
  return {};
#else
  return make_error_code(platform_errc::timer_slack_not_supported);
#endif
}

// True where set_thread_timer_slack can succeed.
constexpr bool thread_timer_slack_supported() noexcept {
#if defined(__linux__)
  return true;
#else
  return false;
#endif
}

}  // namespace power
POWERBATCH_END_NAMESPACE
