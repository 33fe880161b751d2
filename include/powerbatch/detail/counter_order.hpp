// Arrival order across producer threads from the CPU's time-stamp counter, where the kernel trusts that counter.
//
// The batcher must order requests as their submissions happened: a request submitted after another one returned
// (on whatever thread, synchronised however) comes later. One shared counter incremented by every submission gives
// that order, but on a 16-core Xeon that one add on a word every producer writes held the hot path to half of what
// the queue alone moves (bench_batcher: ceiling_sharded_ring_shared_admission). The counter gives it for a read:
//   - read() is rdtscp, which reads the counter only once every earlier instruction has executed and every earlier
//     load is globally visible (Intel and AMD alike; lfence; rdtsc orders only where lfence serialises dispatch,
//     which AMD parts leave to a configuration bit a guest may not have). So it reads after the load that
//     synchronised this thread with an earlier submission; and that earlier submission read its own count before
//     any of its later stores could reach another core (stores leave a core only after they retire, in order). So a
//     submission that happens after another reads a later count, if the cores' counters agree.
//   - The cores' counters agree where the CPU says the counter is invariant and Linux uses it as its clocksource:
//     CLOCK_MONOTONIC, and so steady_clock, then rests on the same agreement and the same ordered read (the vDSO's
//     rdtsc_ordered). The kernel checks it at boot and watches it while running, unless told the counter is
//     reliable (tsc=reliable, some hypervisors), when it trusts it unchecked, as we then do. trusted() is decided
//     once per process: a kernel that later stops using the counter (its watchdog found it unstable) does not
//     change a batcher built before. Elsewhere trusted() is false and the batcher keeps its shared count.
// Two submissions ordered by happens-before are a cache line's trip between cores apart, tens of nanoseconds,
// hundreds of counts: they do not read equal counts.
// Cost (2-core AMD VM, dispatch_cost, read after the admission's compare-and-swap): a producer took 39.9-40.4 ns a
// request with rdtscp and 37.6-37.9 with lfence; rdtsc (three runs each, interleaved), against 15 with the shared
// count; the hot path moved the same with either.
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

  // The counter, read after every earlier instruction has executed and every earlier load is globally visible.
  static std::uint64_t read() noexcept {
#if POWERBATCH_COUNTER_ORDER
    unsigned core_id;  // rdtscp also reports the core's TSC_AUX; not needed
    return __rdtscp(&core_id);
#else
    return 0;
#endif
  }

  // Whether read() orders submissions on this machine: rdtscp, and an invariant counter that Linux uses as its
  // clocksource. Decided once per process.
  static bool trusted() noexcept {
    static const bool value = supported && counter_arrivals::extended_cpuid_edx_bit(0x80000001u, 27) &&  // rdtscp
                              counter_arrivals::invariant_counter() && clocksource_is_tsc();
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
