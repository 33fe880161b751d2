// power::platform_errc — why a platform sensor, wake lock or timer call could not do its job.
//
// OS failures keep the OS's own code (errno in std::generic_category, GetLastError() in std::system_category, an
// IOReturn or sd-bus result turned into errno); these codes cover what the OS does not say. Each compares equal
// to the nearest std::errc (not_supported, invalid_argument, no_such_device), so callers can test either way.
// A reading's `detail` string says which file, call or value was at fault.
#pragma once

#include <powerbatch/config.hpp>

#include <string>
#include <system_error>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

enum class platform_errc {
  malformed_value = 1,   // a file or API returned something that is not the number or word expected
  no_sensor,             // the sensor's directory exists but holds nothing to read (no thermal zone, no RAPL domain)
  not_supported,         // this platform has no such API (or it was built without it)
  api_unavailable,       // the API exists in the headers but not at run time (symbol missing, service not running)
  timer_slack_not_supported,  // per-thread timer slack exists only on Linux (prctl)
};

class platform_error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "powerbatch.power"; }
  std::string message(int value) const override {
    switch (static_cast<platform_errc>(value)) {
      case platform_errc::malformed_value: return "malformed value: not the number or word expected";
      case platform_errc::no_sensor: return "no sensor found";
      case platform_errc::not_supported: return "not supported on this platform";
      case platform_errc::api_unavailable: return "platform API unavailable at run time";
      case platform_errc::timer_slack_not_supported:
        return "per-thread timer slack is not supported on this platform (only Linux has prctl(PR_SET_TIMERSLACK); "
               "Apple dispatch leeway and Windows SetWaitableTimerEx tolerable delay apply only to waits the "
               "caller owns)";
    }
    return "unknown powerbatch.power error";
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<platform_errc>(value)) {
      case platform_errc::malformed_value: return std::errc::invalid_argument;
      case platform_errc::no_sensor: return std::errc::no_such_device;
      case platform_errc::not_supported:
      case platform_errc::api_unavailable:
      case platform_errc::timer_slack_not_supported: return std::errc::not_supported;
    }
    return {value, *this};
  }
};

inline const std::error_category& platform_error_category() noexcept {
  static const platform_error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(platform_errc e) noexcept {
  return {static_cast<int>(e), platform_error_category()};
}

}  // namespace power
POWERBATCH_END_NAMESPACE

template <>
struct std::is_error_code_enum<powerbatch::power::platform_errc> : std::true_type {};
