// power::thermal_sensor — how hot the machine is, as a level 0-4, from whichever source the platform has.
//
//   sysfs_thermal_sensor    Linux thermal zones; root injectable for tests (platform/sysfs_thermal.hpp)
//   android_thermal_sensor  AThermal_* through dlsym on libandroid.so (platform/android_thermal.hpp)
//   apple_thermal_sensor    thermal-pressure notify key, macOS / iOS (platform/apple_thermal.hpp)
//   fake_thermal_sensor     set by a test, counts reads
//   unsupported_thermal_sensor  where there is nothing to read (Windows has no unprivileged thermal API): every
//                           read is a not_supported error (power/environment.hpp's no_thermal_sensor reads nominal)
//   platform_thermal_sensor the right one of these for the target
//
// A sensor's read() returns errors in the reading instead of throwing. Reads cost file reads or system calls:
// poll once per sensor period, never on the per-request path.
#pragma once

#include <powerbatch/power/platform/android_thermal.hpp>
#include <powerbatch/power/platform/apple_thermal.hpp>
#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/sysfs_thermal.hpp>
#include <powerbatch/power/platform/thermal_reading.hpp>

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
concept thermal_sensor = requires(S& s) {
  { s.read() } -> std::same_as<thermal_reading>;
};

// Test double. Thread-safe: a test thread sets while the policy's thread reads.
class fake_thermal_sensor {
 public:
  fake_thermal_sensor() = default;
  explicit fake_thermal_sensor(thermal_level level) { current_.level = level; }

  void set(thermal_level level) {
    std::lock_guard lock(mutex_);
    current_.level = level;
  }
  void set_celsius(std::optional<double> celsius) {
    std::lock_guard lock(mutex_);
    current_.celsius = celsius;
  }
  void set_headroom(std::optional<double> headroom) {
    std::lock_guard lock(mutex_);
    current_.headroom = headroom;
  }
  // Makes the next reads fail; pass an empty code to clear.
  void set_error(std::error_code error, std::string detail = {}) {
    std::lock_guard lock(mutex_);
    current_.error = error;
    current_.detail = std::move(detail);
  }

  thermal_reading read() {
    reads_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    return current_;
  }

  std::uint64_t reads() const noexcept { return reads_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  thermal_reading current_;
  std::atomic<std::uint64_t> reads_{0};
};

// Always reports platform_errc::not_supported, so a policy keeps its nominal behaviour and a report can say why.
class unsupported_thermal_sensor {
 public:
  thermal_reading read() const {
    thermal_reading reading;
    reading.error = make_error_code(platform_errc::not_supported);
    reading.detail = "no thermal sensor on this platform";
    return reading;
  }
};

#if defined(__ANDROID__)
using platform_thermal_sensor = android_thermal_sensor;
#elif defined(__APPLE__)
using platform_thermal_sensor = apple_thermal_sensor;
#elif defined(__linux__)
using platform_thermal_sensor = sysfs_thermal_sensor;
#else
using platform_thermal_sensor = unsupported_thermal_sensor;
#endif

static_assert(thermal_sensor<fake_thermal_sensor>);
static_assert(thermal_sensor<sysfs_thermal_sensor>);
static_assert(thermal_sensor<unsupported_thermal_sensor>);
static_assert(thermal_sensor<platform_thermal_sensor>);

}  // namespace power
POWERBATCH_END_NAMESPACE
