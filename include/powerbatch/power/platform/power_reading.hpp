// power::power_reading — what every power-source sensor reports: mains or battery, charge, low-power mode.
#pragma once

#include <powerbatch/config.hpp>

#include <optional>
#include <string>
#include <system_error>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

// One poll of a power source. When `error` is set some fields could not be read (they hold what could be, and
// default to "on mains, not in low-power mode", the state in which policies change nothing); `detail` names the
// file, call or value at fault.
struct power_reading {
  bool on_battery = false;
  std::optional<double> battery_percent;  // 0-100, where a system battery reports it
  bool low_power_mode = false;            // the user or OS asked to save power (battery saver, Low Power Mode)
  std::error_code error;
  std::string detail;
};

}  // namespace power
POWERBATCH_END_NAMESPACE
