// Arrival times from the CPU's time-stamp counter, for batchers that run on std::chrono::steady_clock.
//
// Every request carries its arrival time: max_delay counts from the oldest one. Reading steady_clock costs a
// producer 20-40 ns (the vDSO reads the counter, then a seqlock and a scale), a third to a half of a whole submit on
// the hot path. Reading the x86 invariant TSC costs 10-20 ns. So producers store the raw count (a request with a
// deadline or timeout still reads the clock for it), and the dispatcher turns the count into steady_clock time when
// it drains the request, from one (count, time) pair it reads per drain:
//
//     arrival = pair.time + (stamp - pair.count) * scale
//
// Only a stamp's distance from the pair is scaled: about as long as the request waited, microseconds to
// milliseconds. So an error in the scale, or NTP slewing steady_clock, costs nanoseconds, not the seconds that a
// clock built on the counter gathers over hours.
//
// Never early: the pair is read after the drain, counter first, so its time is at or after its count's instant and
// every stamp it converts is older; and the scale is shaved by its own error bound (how long the calibration's
// clock reads took, over how long it measured), so that a stamp's age is underestimated rather than overestimated.
// An arrival comes out late by the pair's clock read (tens of nanoseconds) and a few nanoseconds per millisecond of
// waiting at first, less as the calibration's span grows. A counter that jumped back (a suspend) cannot put an
// arrival after the pair; one that jumped forward restarts the calibration.
//
// The scale is measured, never assumed: from an anchor pair read at the first batcher's construction to pairs
// read now and then by dispatchers, once calibration_span has passed, then refined as the span grows. Until then,
// and on CPUs without an invariant counter, producers read steady_clock as before. Define
// POWERBATCH_NO_COUNTER_ARRIVALS to always read steady_clock.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>

#if defined(__x86_64__) && !defined(POWERBATCH_NO_COUNTER_ARRIVALS) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <x86intrin.h>
#define POWERBATCH_COUNTER_ARRIVALS 1
#else
#define POWERBATCH_COUNTER_ARRIVALS 0
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

// One reading of the counter and of steady_clock, the counter first; `scale` is nanoseconds per count.
struct counter_pair {
  std::uint64_t count = 0;
  time_point time{};
  double scale = 0;

  // The steady_clock time of a counter stamp read before this pair.
  time_point to_time(std::uint64_t stamp) const noexcept {
    const auto age = static_cast<std::int64_t>(count - stamp);
    if (age <= 0) return time;
    return time - duration(static_cast<duration::rep>(static_cast<double>(age) * scale));
  }

  // The counter's reading when steady_clock reaches `t` (at or after this pair), erring late by `margin` of the
  // distance; max() for time_point::max() or without a scale. For a test against stamps that must not come out
  // early (see counter_arrivals::reaches_before).
  std::uint64_t count_at(time_point t, double margin) const noexcept {
    if (t == time_point::max() || scale <= 0) return std::numeric_limits<std::uint64_t>::max();
    if (t <= time) return count;
    const double counts = static_cast<double>((t - time).count()) / scale * (1 + margin);
    if (counts >= 0x1p63) return std::numeric_limits<std::uint64_t>::max();
    return count + static_cast<std::uint64_t>(counts);
  }
};

// A calibration pair, with the counts its clock read took: the clock's time lies somewhere in that window.
struct timed_counter_pair {
  counter_pair pair;
  std::uint64_t window = 0;
};

// The process's calibration, shared by every batcher.
struct counter_calibration {
  std::mutex mutex;
  std::atomic<double> scale{0};
  std::atomic<duration::rep> next_due{0};  // steady_clock ticks; max when calibration is off
  bool anchored = false;
  timed_counter_pair anchor;
};

inline constinit counter_calibration process_counter_calibration{};

class counter_arrivals {
 public:
  static constexpr bool supported = POWERBATCH_COUNTER_ARRIVALS != 0;
  // How long the first calibration measures: long enough that the pairs' read time (tens of nanoseconds) is a few
  // parts in 10^6 of it.
  static constexpr std::chrono::milliseconds calibration_span{20};
  // A refined scale further than this from the current one means the counter jumped (a suspend, a migration):
  // calibration restarts from a new anchor and keeps the current scale meanwhile.
  static constexpr double scale_tolerance = 1e-3;

  static std::uint64_t read() noexcept {
#if POWERBATCH_COUNTER_ARRIVALS
    return __rdtsc();
#else
    return 0;
#endif
  }

  // Nanoseconds per count once calibrated, else 0 (producers then read steady_clock). Never 0 again once set.
  static double scale() noexcept { return state().scale.load(std::memory_order_relaxed); }
  static bool calibrated() noexcept { return scale() != 0; }

  // The pair a dispatcher reads after a drain to convert that drain's stamps.
  static counter_pair read_pair() noexcept {
    counter_pair p;
    p.count = read();
    p.time = std::chrono::steady_clock::now();
    p.scale = scale();
    return p;
  }

  // Whether `after` past a stamp comes before the counter reads `count`, erring towards yes by `margin` of `after`:
  // a producer's test of a timeout against a dispatcher's next look (count from counter_pair::count_at), made
  // without reading the clock. Uncalibrated, every stamp is before.
  static bool reaches_before(std::uint64_t stamp, duration after, std::uint64_t count, double margin) noexcept {
    const double per_count = scale();
    if (per_count <= 0) return true;
    const double due = static_cast<double>(stamp) + static_cast<double>(after.count()) / per_count * (1 - margin);
    return due < static_cast<double>(count);
  }

  // Called by dispatchers with their current steady_clock time: anchors the calibration on the first call, sets the
  // scale once calibration_span has passed, then refines it whenever the span has doubled (at most once a minute).
  // Costs one relaxed load when nothing is due; concurrent callers skip rather than wait.
  static void observe(time_point now) noexcept {
    if constexpr (supported) {
      shared_state& s = state();
      if (now.time_since_epoch().count() < s.next_due.load(std::memory_order_relaxed)) return;
      std::unique_lock lock(s.mutex, std::try_to_lock);
      if (!lock.owns_lock()) return;
      update(s);
    }
  }

  // True where the CPU says its counter runs at a constant rate in every power state (CPUID 0x80000007, EDX bit 8).
  static bool invariant_counter() noexcept { return extended_cpuid_edx_bit(0x80000007u, 8); }

  // Bit `bit` of EDX from extended CPUID leaf `leaf` (0x8000000x); false where the CPU lacks the leaf or is not x86.
  static bool extended_cpuid_edx_bit(unsigned leaf, unsigned bit) noexcept {
#if POWERBATCH_COUNTER_ARRIVALS
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    // clang declares __get_cpuid_max as returning int, gcc as unsigned.
    if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < leaf) return false;
    if (!__get_cpuid(leaf, &eax, &ebx, &ecx, &edx)) return false;
    return (edx & (1u << bit)) != 0;
#else
    (void)leaf;
    (void)bit;
    return false;
#endif
  }

 private:
  using shared_state = counter_calibration;
  static shared_state& state() noexcept { return process_counter_calibration; }

  // The pair whose two counter reads are closest of a few tries: the clock read between them was not interrupted.
  static timed_counter_pair read_tight_pair() noexcept {
    timed_counter_pair best{{}, ~std::uint64_t{0}};
    for (int attempt = 0; attempt < 5; ++attempt) {
      const std::uint64_t before = read();
      const time_point time = std::chrono::steady_clock::now();
      const std::uint64_t window = read() - before;
      if (window < best.window) best = timed_counter_pair{counter_pair{before, time, 0}, window};
    }
    return best;
  }

  static void update(shared_state& s) noexcept {
    constexpr auto never = std::numeric_limits<duration::rep>::max();
    if (!s.anchored) {
      if (!invariant_counter()) return s.next_due.store(never, std::memory_order_relaxed);
      s.anchor = read_tight_pair();
      s.anchored = true;
      return schedule(s, s.anchor.pair.time + calibration_span);
    }
    const timed_counter_pair p = read_tight_pair();
    const duration span = p.pair.time - s.anchor.pair.time;
    const auto counts = static_cast<std::int64_t>(p.pair.count - s.anchor.pair.count);
    const auto restart = [&] {
      s.anchor = p;
      schedule(s, p.pair.time + calibration_span);
    };
    if (counts <= 0 || span <= duration::zero()) return restart();  // the counter went back
    const double measured = static_cast<double>(span.count()) / static_cast<double>(counts);
    // Each clock read lies somewhere in its window, so the span in counts is uncertain by the two windows.
    const double error_bound = static_cast<double>(s.anchor.window + p.window) / static_cast<double>(counts);
    const double shaved = measured * (1.0 - error_bound);
    const double current = s.scale.load(std::memory_order_relaxed);
    if (current != 0 && (shaved > current * (1 + scale_tolerance) || shaved < current * (1 - scale_tolerance)))
      return restart();  // the counter jumped: keep the current scale until a new span is measured
    s.scale.store(shaved, std::memory_order_relaxed);
    schedule(s, p.pair.time + std::min<duration>(span, std::chrono::minutes(1)));
  }

  static void schedule(shared_state& s, time_point due) noexcept {
    s.next_due.store(due.time_since_epoch().count(), std::memory_order_relaxed);
  }
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
