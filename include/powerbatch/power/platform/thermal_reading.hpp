// power::thermal_level and power::thermal_reading — what every thermal sensor reports.
//
// Levels 0-4 follow Android's AThermalStatus (none, light, moderate, severe, critical; emergency and shutdown fold
// into critical), the richest of the platform scales; each sensor documents how its platform maps onto them.
#pragma once

#include <powerbatch/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

enum class thermal_level : std::uint8_t { nominal = 0, light = 1, moderate = 2, severe = 3, critical = 4 };

constexpr std::string_view to_string(thermal_level level) noexcept {
  switch (level) {
    case thermal_level::nominal: return "nominal";
    case thermal_level::light: return "light";
    case thermal_level::moderate: return "moderate";
    case thermal_level::severe: return "severe";
    case thermal_level::critical: return "critical";
  }
  return "unknown";
}

// One poll of a sensor. When `error` is set the level is not trustworthy (it stays nominal), and `detail` names
// the file, call or value at fault. celsius and headroom are there only where the platform reports them.
struct thermal_reading {
  thermal_level level = thermal_level::nominal;
  std::optional<double> celsius;   // hottest zone (Linux sysfs)
  std::optional<double> headroom;  // Android: 0 = no headroom used, 1 = at the severe threshold, >1 beyond
  std::error_code error;
  std::string detail;
};

}  // namespace power
POWERBATCH_END_NAMESPACE
