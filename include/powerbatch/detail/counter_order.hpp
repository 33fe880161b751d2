// Arrival order across producer threads from the CPU's time-stamp counter, where the kernel trusts that counter.
//
// The batcher must order requests as their submissions happened: a request submitted after another one returned
// (on whatever thread, synchronised however) comes later. One shared counter incremented by every submission gives
// that order, but on a 16-core Xeon that one add on a word every producer writes held the hot path to half of what
// the queue alone moves (bench_batcher: ceiling_sharded_ring_shared_admission). The counter gives it for a read:
//   - read() waits (lfence) for every earlier instruction, the load that synchronised this thread with an earlier
//     submission included, before it reads the counter; and that earlier submission read its own count before any
//     of its later stores could reach another core (stores leave a core only after they retire, in order). So a
//     submission that happens after another reads a later count, if the cores' counters agree.
//   - The cores' counters agree where the CPU says the counter is invariant and Linux uses it as its clocksource:
//     the kernel checks at boot and while running that no core's counter is behind another's, and steady_clock
//     itself then rests on this same ordered read (the vDSO's rdtsc_ordered). Elsewhere trusted() is false and
//     the batcher keeps its shared count.
// Two submissions ordered by happens-before are a cache line's trip between cores apart, tens of nanoseconds,
// hundreds of counts: they do not read equal counts.
//
// Define POWERBATCH_NO_COUNTER_ORDER to never trust the counter for order.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/detail/counter_arrivals.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>

#if POWERBATCH_COUNTER_ARRIVALS && defined(__linux__) && !defined(POWERBATCH_NO_COUNTER_ORDER)
#define POWERBATCH_COUNTER_ORDER 1
#else
#define POWERBATCH_COUNTER_ORDER 0
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

struct counter_order {
  static constexpr bool supported = POWERBATCH_COUNTER_ORDER != 0;

  // The counter, read after every earlier instruction has completed.
  static std::uint64_t read() noexcept {
#if POWERBATCH_COUNTER_ORDER
    _mm_lfence();
    return __rdtsc();
#else
    return 0;
#endif
  }

  // Whether read() orders submissions on this machine: an invariant counter that Linux uses as its clocksource.
  // Decided once per process.
  static bool trusted() noexcept {
    static const bool value = supported && counter_arrivals::invariant_counter() && clocksource_is_tsc();
    return value;
  }

 private:
  static bool clocksource_is_tsc() noexcept {
    std::FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f) return false;
    char name[32] = {};
    const bool read_name = std::fgets(name, sizeof name, f) != nullptr;
    std::fclose(f);
    return read_name && (std::strcmp(name, "tsc\n") == 0 || std::strcmp(name, "tsc") == 0);
  }
};

}  // namespace detail
POWERBATCH_END_NAMESPACE
