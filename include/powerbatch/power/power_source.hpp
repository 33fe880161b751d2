// power::power_source_sensor — on mains or on battery, how charged, and whether low-power mode is on.
//
//   sysfs_power_source    Linux /sys/class/power_supply (root injectable for tests); also Android, where SELinux
//                         allows it (platform/sysfs_power_source.hpp)
//   windows_power_source  GetSystemPowerStatus (platform/windows_power_source.hpp)
//   apple_power_source    IOPSCopyPowerSourcesInfo and Low Power Mode (platform/apple_power_source.hpp)
//   fake_power_source     set by a test, counts reads
//   platform_power_source the right one for the target
//
// Reads return errors in the reading instead of throwing; poll once per sensor period, never per request.
#pragma once

#include <powerbatch/power/platform/apple_power_source.hpp>
#include <powerbatch/power/platform/power_reading.hpp>
#include <powerbatch/power/platform/sysfs_power_source.hpp>
#include <powerbatch/power/platform/windows_power_source.hpp>

#include <atomic>
#include <concepts>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

template <class S>
concept power_source_sensor = requires(S& s) {
  { s.read() } -> std::same_as<power_reading>;
};

// Test double. Thread-safe: a test thread sets while the policy's thread reads.
class fake_power_source {
 public:
  void set_on_battery(bool on_battery) {
    std::lock_guard lock(mutex_);
    current_.on_battery = on_battery;
  }
  void set_battery_percent(std::optional<double> percent) {
    std::lock_guard lock(mutex_);
    current_.battery_percent = percent;
  }
  void set_low_power_mode(bool on) {
    std::lock_guard lock(mutex_);
    current_.low_power_mode = on;
  }
  // Makes the next reads fail; pass an empty code to clear.
  void set_error(std::error_code error, std::string detail = {}) {
    std::lock_guard lock(mutex_);
    current_.error = error;
    current_.detail = std::move(detail);
  }

  power_reading read() {
    reads_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    return current_;
  }

  std::uint64_t reads() const noexcept { return reads_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  power_reading current_;
  std::atomic<std::uint64_t> reads_{0};
};

#if defined(_WIN32)
using platform_power_source = windows_power_source;
#elif defined(__APPLE__)
using platform_power_source = apple_power_source;
#else
using platform_power_source = sysfs_power_source;
#endif

static_assert(power_source_sensor<fake_power_source>);
static_assert(power_source_sensor<sysfs_power_source>);
static_assert(power_source_sensor<platform_power_source>);

}  // namespace power
POWERBATCH_END_NAMESPACE
