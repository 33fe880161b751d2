// power::windows_power_source — GetSystemPowerStatus (kernel32, every Windows version).
//
// on_battery: ACLineStatus is 0 (offline) and a system battery exists (BatteryFlag is not 128, "no system
// battery"); 255 ("unknown") counts as mains. battery_percent: BatteryLifePercent when it is 0-100 (255 = unknown).
// low_power_mode: SystemStatusFlag is 1, battery saver on (Windows 10 and later; the byte is 0 before). MinGW's
// headers call that byte Reserved1; both spellings are handled. Only in Windows builds. Thread safety: stateless.
#pragma once

#include <powerbatch/power/platform/power_reading.hpp>

#if defined(_WIN32)
#include <windows.h>

#include <string>
#include <system_error>

#define POWERBATCH_HAS_WINDOWS_POWER_SOURCE 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class windows_power_source {
 public:
  power_reading read() const {
    power_reading reading;
    SYSTEM_POWER_STATUS status{};
    if (!::GetSystemPowerStatus(&status)) {
      reading.error = std::error_code(static_cast<int>(::GetLastError()), std::system_category());
      reading.detail = "GetSystemPowerStatus failed: " + reading.error.message();
      return reading;
    }
    return from_status(status);
  }

  // The mapping, apart from the call, so that it can be tested with any status.
  static power_reading from_status(const SYSTEM_POWER_STATUS& status) {
    power_reading reading;
    const bool has_battery = status.BatteryFlag != 128 && status.BatteryFlag != 255;
    reading.on_battery = status.ACLineStatus == 0 && has_battery;
    if (status.BatteryLifePercent <= 100 && has_battery) reading.battery_percent = status.BatteryLifePercent;
    reading.low_power_mode = saver_flag(status) == 1;
    return reading;
  }

 private:
  template <class Status>
  static unsigned saver_flag(const Status& status) {
    if constexpr (requires(const Status& s) { s.SystemStatusFlag; }) return status.SystemStatusFlag;
    else return status.Reserved1;
  }
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // _WIN32
