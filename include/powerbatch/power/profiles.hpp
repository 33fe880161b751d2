// power profiles — seed 001's MAX_PERFORMANCE, BALANCED, POWER_SAVER, ULTRA_EFFICIENT, THERMAL_AWARE and CUSTOM as
// compile-time bundles over any Timeout policy:
//
//   Batcher<Queue, power::balanced<timeout::size_or_delay>, Priority, Backend>
//
// Each is power::governed<Inner, Profile> (governor.hpp) with the profile's defaults in its params; every default
// can be overridden per batcher (cfg.timeout.tolerance, cfg.timeout.thermal[level], ...). power::default_profile
// picks one per platform: power_saver on phones (Android, iOS), balanced elsewhere; define
// POWERBATCH_POWER_PROFILE to one of the profile names to choose another.
//
// The numbers, and why (the wake cost they buy is measured by benchmarks/power/bench_power):
//  - tolerance: how late after the inner policy's own flush time a batch may leave. At an arrival rate r and a
//    window w a batch collects about 1 + r*(w + tolerance) requests and costs two wake-ups (the first arrival and
//    the flush), so the tolerance is what turns a short window into few wake-ups per request.
//      max_performance 0; balanced 100 ms (the limit under which a response still feels instantaneous — Card,
//      Moran & Newell; Google's RAIL response budget); power_saver 500 ms; ultra_efficient 2 s (seed 000's
//      batch_timeout); thermal_aware as balanced.
//  - thermal reactions (levels follow Android's AThermalStatus): the hotter, the smaller the batch (shorter bursts
//    of full-power compute), the longer the window (fewer bursts), the fewer batches at once (less peak power),
//    and low priority waits. light lengthens the window only; moderate caps batches at 16 and allows 2 in flight;
//    severe 8 and 1, and defers low priority; critical 4 and 1. thermal_aware starts one level earlier and harder.
//    max_performance reacts only at critical, where the OS is about to throttle anyway.
//  - on battery: tolerance x2 and low priority deferred until charging (seed 000); in the OS's low-power mode x4.
//    max_performance ignores the power source.
//  - custom: no tolerance, no reactions: the user fills in the table and the tolerance.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/power/governor.hpp>

#include <chrono>
#include <string_view>

#if defined(__APPLE__)
#include <TargetConditionals.h>  // TARGET_OS_IPHONE
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace power {
namespace profile {

using namespace std::chrono_literals;

// The reaction table most profiles share.
constexpr reaction_table standard_thermal_reactions() noexcept {
  return reaction_table{{
      {},                              // nominal
      {no_limit, 1.5, no_limit, false},  // light
      {16, 2.0, 2, false},             // moderate
      {8, 4.0, 1, true},               // severe
      {4, 8.0, 1, true},               // critical
  }};
}

struct max_performance {
  static constexpr std::string_view name = "max_performance";
  static constexpr duration tolerance = duration::zero();
  static constexpr reaction_table thermal_reactions() noexcept {
    return reaction_table{{{}, {}, {}, {}, {8, 2.0, 1, true}}};
  }
  static constexpr power_source_reaction on_battery() noexcept { return {}; }
  static constexpr power_source_reaction low_power_mode() noexcept { return {}; }
};

struct balanced {
  static constexpr std::string_view name = "balanced";
  static constexpr duration tolerance = 100ms;
  static constexpr reaction_table thermal_reactions() noexcept { return standard_thermal_reactions(); }
  static constexpr power_source_reaction on_battery() noexcept { return {2.0, true}; }
  static constexpr power_source_reaction low_power_mode() noexcept { return {4.0, true}; }
};

struct power_saver {
  static constexpr std::string_view name = "power_saver";
  static constexpr duration tolerance = 500ms;
  static constexpr reaction_table thermal_reactions() noexcept { return standard_thermal_reactions(); }
  static constexpr power_source_reaction on_battery() noexcept { return {2.0, true}; }
  static constexpr power_source_reaction low_power_mode() noexcept { return {4.0, true}; }
};

struct ultra_efficient {
  static constexpr std::string_view name = "ultra_efficient";
  static constexpr duration tolerance = 2s;
  static constexpr reaction_table thermal_reactions() noexcept { return standard_thermal_reactions(); }
  static constexpr power_source_reaction on_battery() noexcept { return {2.0, true}; }
  static constexpr power_source_reaction low_power_mode() noexcept { return {4.0, true}; }
};

struct thermal_aware {
  static constexpr std::string_view name = "thermal_aware";
  static constexpr duration tolerance = 100ms;
  static constexpr reaction_table thermal_reactions() noexcept {
    return reaction_table{{
        {},                      // nominal
        {16, 2.0, 2, false},     // light
        {8, 4.0, 1, true},       // moderate
        {4, 8.0, 1, true},       // severe
        {1, 16.0, 1, true},      // critical: one request at a time, rarely
    }};
  }
  static constexpr power_source_reaction on_battery() noexcept { return {2.0, true}; }
  static constexpr power_source_reaction low_power_mode() noexcept { return {4.0, true}; }
};

struct custom {
  static constexpr std::string_view name = "custom";
  static constexpr duration tolerance = duration::zero();
  static constexpr reaction_table thermal_reactions() noexcept { return reaction_table{}; }
  static constexpr power_source_reaction on_battery() noexcept { return {}; }
  static constexpr power_source_reaction low_power_mode() noexcept { return {}; }
};

}  // namespace profile

template <timeout_policy Inner>
using max_performance = governed<Inner, profile::max_performance>;
template <timeout_policy Inner>
using balanced = governed<Inner, profile::balanced>;
template <timeout_policy Inner>
using power_saver = governed<Inner, profile::power_saver>;
template <timeout_policy Inner>
using ultra_efficient = governed<Inner, profile::ultra_efficient>;
template <timeout_policy Inner>
using thermal_aware = governed<Inner, profile::thermal_aware>;
template <timeout_policy Inner>
using custom = governed<Inner, profile::custom>;

// The platform's default profile, chosen on the target at compile time; -DPOWERBATCH_POWER_PROFILE=<name> overrides.
#if defined(POWERBATCH_POWER_PROFILE)
template <timeout_policy Inner>
using default_profile = governed<Inner, profile::POWERBATCH_POWER_PROFILE>;
#elif defined(__ANDROID__)
template <timeout_policy Inner>
using default_profile = power_saver<Inner>;
#elif defined(TARGET_OS_IPHONE) && TARGET_OS_IPHONE
template <timeout_policy Inner>
using default_profile = power_saver<Inner>;
#else
template <timeout_policy Inner>
using default_profile = balanced<Inner>;
#endif

}  // namespace power
POWERBATCH_END_NAMESPACE
