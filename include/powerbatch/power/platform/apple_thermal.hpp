// power::apple_thermal_sensor — macOS and iOS thermal pressure, from the notify(3) key
// "com.apple.system.thermalpressurelevel" (kOSThermalNotificationPressureLevelName in <libkern/OSThermalNotification.h>,
// macOS 10.10 / iOS 7). A check token is registered once; read() is one notify_get_state call, no run loop needed.
//
// Mapping of OSThermalPressureLevel. macOS: 0 nominal, 1 moderate, 2 heavy -> severe, 3 trapping and 4 sleeping
// -> critical. iOS uses a scale in tens with a light step: 10 light, 20 moderate, 30 heavy -> severe,
// 40 / 50 -> critical. Values of 10 or more are read on the iOS scale (macOS never reports them).
// Only in Apple builds; NOT compiled or run by this project's CI (no Apple toolchain there).
#pragma once

#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/thermal_reading.hpp>

#if defined(__APPLE__)
#include <notify.h>

#include <cstdint>
#include <string>
#include <utility>

#define POWERBATCH_HAS_APPLE_THERMAL_SENSOR 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class apple_thermal_sensor {
 public:
  apple_thermal_sensor() {
    const std::uint32_t status = ::notify_register_check("com.apple.system.thermalpressurelevel", &token_);
    if (status != NOTIFY_STATUS_OK) {
      registered_ = false;
      register_status_ = status;
    }
  }
  apple_thermal_sensor(apple_thermal_sensor&& other) noexcept
      : token_(other.token_), registered_(std::exchange(other.registered_, false)),
        register_status_(other.register_status_) {}
  apple_thermal_sensor& operator=(apple_thermal_sensor&&) = delete;
  apple_thermal_sensor(const apple_thermal_sensor&) = delete;
  ~apple_thermal_sensor() {
    if (registered_) ::notify_cancel(token_);
  }

  thermal_reading read() const {
    thermal_reading reading;
    if (!registered_) {
      reading.error = make_error_code(platform_errc::api_unavailable);
      reading.detail = "notify_register_check(\"com.apple.system.thermalpressurelevel\") failed with status " +
                       std::to_string(register_status_);
      return reading;
    }
    std::uint64_t state = 0;
    const std::uint32_t status = ::notify_get_state(token_, &state);
    if (status != NOTIFY_STATUS_OK) {
      reading.error = make_error_code(platform_errc::api_unavailable);
      reading.detail = "notify_get_state(thermal pressure) failed with status " + std::to_string(status);
      return reading;
    }
    reading.level = level_of(state);
    return reading;
  }

  static constexpr thermal_level level_of(std::uint64_t pressure) noexcept {
    if (pressure >= 10) {  // iOS scale
      if (pressure >= 40) return thermal_level::critical;
      if (pressure >= 30) return thermal_level::severe;
      if (pressure >= 20) return thermal_level::moderate;
      return thermal_level::light;
    }
    switch (pressure) {
      case 0: return thermal_level::nominal;
      case 1: return thermal_level::moderate;
      case 2: return thermal_level::severe;
      default: return thermal_level::critical;
    }
  }

 private:
  int token_ = 0;
  bool registered_ = true;
  std::uint32_t register_status_ = 0;
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // __APPLE__
