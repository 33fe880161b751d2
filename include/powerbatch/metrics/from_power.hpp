// metrics::to_power_figures — the power layer's account of an interval (power/accounting.hpp) as the figures the
// reports and the Prometheus text show: wake-ups per request, millijoules per request, whether the joules were
// measured (RAPL) or modelled, and the average power they amount to over the interval.
//
//   power::energy_meter meter;                       // when the run starts
//   ... traffic through a Batcher<..., metrics::recorder> ...
//   auto account = meter.finish(batcher.stats());
//   metrics::profile_result r{"balanced", batcher.observer().snapshot(), metrics::to_power_figures(account)};
//
// The model's joules are the batcher's own (wake-ups and busy time, idle power left out unless asked for), RAPL's
// the whole package's; energy_source says which, so a report never passes one off as the other.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/result.hpp>
#include <powerbatch/power/accounting.hpp>

#include <chrono>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

inline power_figures to_power_figures(const power::power_account& account) {
  power_figures figures;
  figures.wakeups_per_request = account.wakeups_per_request();
  if (account.requests > 0) figures.energy_mj_per_request = account.joules_per_request() * 1e3;
  figures.energy_source = account.energy.source == power::energy_estimate::method::rapl ? "RAPL" : "model";
  const double seconds = std::chrono::duration<double>(account.interval).count();
  if (seconds > 0) figures.average_power_mw = account.energy.joules / seconds * 1e3;
  return figures;
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
