// Time in powerbatch: every policy sees std::chrono::steady_clock time points, whichever clock produced them.
//
// The batcher reads time only through its Clock parameter, so tests and simulations swap in manual_clock and
// step time by hand: timing behaviour is then deterministic, with no sleeps.
#pragma once

#include <powerbatch/config.hpp>

#include <boost/asio/wait_traits.hpp>

#include <atomic>
#include <chrono>
#include <concepts>

POWERBATCH_BEGIN_NAMESPACE

using duration = std::chrono::steady_clock::duration;
using time_point = std::chrono::steady_clock::time_point;

// A Clock the batcher accepts: a chrono clock whose time points are steady_clock's.
template <class C>
concept batcher_clock = requires {
  { C::now() } -> std::same_as<time_point>;
} && std::same_as<typename C::time_point, time_point> && std::same_as<typename C::duration, duration>;

// A clock whose time a program moves by hand (manual_clock, the lab's simulation clock): threads do not sleep on
// it, so the batcher counts every dispatcher run as a wake-up instead of asking the kernel.
template <class C>
concept virtual_clock = requires { C::is_virtual; } && static_cast<bool>(C::is_virtual);

// A steady clock that moves only when told to. Process-wide (Asio timers need a static now()), so tests that use
// it must not run concurrently with each other; set() and advance() are thread-safe.
struct manual_clock {
  using rep = std::chrono::steady_clock::rep;
  using period = std::chrono::steady_clock::period;
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;
  static constexpr bool is_virtual = true;  // no thread really sleeps on it: the batcher does not measure sleeps

  static time_point now() noexcept { return time_point(duration(ticks().load(std::memory_order_acquire))); }
  static void set(time_point t) noexcept { ticks().store(t.time_since_epoch().count(), std::memory_order_release); }
  static void advance(duration d) noexcept { ticks().fetch_add(d.count(), std::memory_order_acq_rel); }
  // Starts each test from the same, non-zero instant.
  static void reset() noexcept { set(time_point(std::chrono::hours(1))); }

 private:
  static std::atomic<rep>& ticks() noexcept {
    static std::atomic<rep> value{std::chrono::duration_cast<duration>(std::chrono::hours(1)).count()};
    return value;
  }
};

POWERBATCH_END_NAMESPACE

// Asio sleeps for the real length of a timer's remaining time, which means nothing for a clock moved by hand: an
// io_context driving manual_clock timers checks them on every poll() instead of sleeping.
template <>
struct boost::asio::wait_traits<powerbatch::manual_clock> {
  static powerbatch::manual_clock::duration to_wait_duration(const powerbatch::manual_clock::duration&) {
    return powerbatch::manual_clock::duration::zero();
  }
  static powerbatch::manual_clock::duration to_wait_duration(const powerbatch::manual_clock::time_point&) {
    return powerbatch::manual_clock::duration::zero();
  }
};
