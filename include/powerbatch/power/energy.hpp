// power::energy_model and power::energy_estimate — joules from counts of wake-ups and busy time, or measured.
//
// Where RAPL counters are readable (Linux, root, x86) rapl_meter measures package energy (platform/rapl.hpp).
// Everywhere else the estimate comes from a three-number model:
//   joules = wakeups * joules_per_wakeup + busy_seconds * active_watts + idle_seconds * idle_watts
// The constants below are ORDER-OF-MAGNITUDE ESTIMATES, not measurements. Each input is cited; the arithmetic
// that turns them into joules is ours. They are good for comparing policies on one machine (the model is linear,
// so ratios hold), not for absolute battery predictions: measure your device (RAPL, powermetrics, Android's
// batterystats / power_profile.xml, a USB power meter) and pass your own energy_model.
// energy_estimate::source says which of the two produced a number; reports must print it.
#pragma once

#include <powerbatch/power/platform/rapl.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

struct energy_model {
  double joules_per_wakeup;  // one dispatcher wake-up: leaving a deep idle state, running briefly, re-entering it
  double active_watts;       // extra power while a core runs the dispatcher or a batch
  double idle_watts;         // the package's power while everything sleeps
  std::string_view source;   // where the numbers come from, for reports
};

struct energy_estimate {
  double joules;
  enum class method { rapl, model } source;
};

constexpr std::string_view to_string(energy_estimate::method m) noexcept {
  return m == energy_estimate::method::rapl ? "measured (RAPL)" : "estimated (model)";
}

// The model's constants for the platform this is compiled for.
constexpr energy_model platform_energy_model() noexcept {
#if defined(__APPLE__) && defined(__aarch64__)
  // Apple silicon. Apple publishes no idle-state exit latencies or per-core power, so every number is ASSUMED:
  // an efficiency core at ~0.5 W awake for ~200 us per wake-up (0.1 mJ), ~3 W for one busy performance core, and
  // ~0.1 W package idle. Replace with figures from `sudo powermetrics --samplers cpu_power` on the target.
  return {1.0e-4, 3.0, 0.1, "estimate, Apple silicon: assumed constants (no public idle-state data); "
                            "calibrate with powermetrics"};
#elif defined(__aarch64__) || defined(__arm__)
  // Android phones and other Arm SoCs. Idle-state costs from Qualcomm Snapdragon device trees in Linux
  // (arch/arm64/boot/dts/qcom/*.dtsi, "arm,idle-state" nodes; values differ per SoC): a little-core rail power
  // collapse with exit-latency-us 621 and min-residency-us 952, big cores around 1061 / 4488. min-residency is the break-even time of the state, so it
  // stands for the energy of the transition. A wake-up served by a little core at an ASSUMED ~0.3 W for
  // 621 + 952 us costs ~0.5 mJ. active_watts 1.5 W (one big core at a mid frequency) and idle_watts 0.05 W
  // (CPU subsystem suspended) are ASSUMED values of the order device power_profile.xml files give
  // (AOSP frameworks/base/core/res/res/xml/power_profile.xml defines the keys; each vendor supplies values).
  return {5.0e-4, 1.5, 0.05, "estimate, Arm SoC: Snapdragon idle-state latencies (Linux qcom device trees) x "
                             "assumed core power"};
#else
  // x86-64 laptops, desktops and servers. Idle-state costs from Linux's intel_idle driver
  // (drivers/idle/intel_idle.c, skl_cstates): C6 exit_latency 85 us, target_residency 200 us — the residency is
  // the break-even time, so it stands for the energy of the transition. A wake-up from C6 of one core at an
  // ASSUMED ~2 W for 85 + 200 us costs ~0.6 mJ (deeper package states cost more; shallow C1E far less).
  // active_watts 10 W (one busy core plus uncore on a 15-28 W laptop part) and idle_watts 2 W (package idle) are
  // ASSUMED; RAPL (rapl_meter) measures them where readable.
  return {6.0e-4, 10.0, 2.0, "estimate, x86-64: intel_idle C6 latency/residency (Linux skl_cstates) x assumed "
                             "core power"};
#endif
}

// The model's estimate for `wakeups` wake-ups, `busy` time running and `idle` time asleep.
template <class Rep1, class Period1, class Rep2, class Period2>
constexpr energy_estimate estimate_energy(const energy_model& model, std::uint64_t wakeups,
                                          std::chrono::duration<Rep1, Period1> busy,
                                          std::chrono::duration<Rep2, Period2> idle) noexcept {
  const double busy_s = std::chrono::duration<double>(busy).count();
  const double idle_s = std::chrono::duration<double>(idle).count();
  return {static_cast<double>(wakeups) * model.joules_per_wakeup + busy_s * model.active_watts +
              idle_s * model.idle_watts,
          energy_estimate::method::model};
}

// A measured reading as an estimate, so that callers handle both the same way. Check reading.error first.
inline energy_estimate measured_energy(const rapl_reading& reading) noexcept {
  return {reading.joules, energy_estimate::method::rapl};
}

}  // namespace power
POWERBATCH_END_NAMESPACE
