// The Windows side of the platform layer, cross-compiled with MinGW-w64 and run under Wine (or Windows) by
// windows_cross.sh: GetSystemPowerStatus mapping, the power-request wake lock, timer slack's "not supported",
// and that every power header compiles for Windows. No Catch2: a few checks that print what failed.
#include <powerbatch/power/energy.hpp>
#include <powerbatch/power/power_source.hpp>
#include <powerbatch/power/thermal.hpp>
#include <powerbatch/power/timer_slack.hpp>
#include <powerbatch/power/wake_lock.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <type_traits>

namespace power = powerbatch::power;

namespace {
int failures = 0;

void check(bool ok, const char* what, int line) {
  std::printf("%s line %d: %s\n", ok ? "ok  " : "FAIL", line, what);
  if (!ok) ++failures;
}
#define CHECK(...) check((__VA_ARGS__), #__VA_ARGS__, __LINE__)

// Wine exports wine_get_version from ntdll; Windows does not.
bool running_under_wine() {
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

// The battery-saver byte is SystemStatusFlag in the Windows SDK and Reserved1 in MinGW's headers.
template <class Status>
void set_saver(Status& s, BYTE saver) {
  if constexpr (requires { s.SystemStatusFlag; }) s.SystemStatusFlag = saver;
  else s.Reserved1 = saver;
}

SYSTEM_POWER_STATUS status(BYTE ac, BYTE flag, BYTE percent, BYTE saver) {
  SYSTEM_POWER_STATUS s{};
  s.ACLineStatus = ac;
  s.BatteryFlag = flag;
  s.BatteryLifePercent = percent;
  set_saver(s, saver);
  return s;
}
}  // namespace

int main() {
  const bool wine = running_under_wine();
  std::printf("running under %s\n", wine ? "Wine" : "Windows");

  // Power source: the mapping of GetSystemPowerStatus, then the real call.
  static_assert(std::is_same_v<power::platform_power_source, power::windows_power_source>);
  auto r = power::windows_power_source::from_status(status(0, 1, 42, 1));
  CHECK(r.on_battery && r.battery_percent == 42.0 && r.low_power_mode);
  r = power::windows_power_source::from_status(status(1, 8, 90, 0));  // charging
  CHECK(!r.on_battery && r.battery_percent == 90.0 && !r.low_power_mode);
  r = power::windows_power_source::from_status(status(0, 128, 255, 0));  // no system battery
  CHECK(!r.on_battery && !r.battery_percent);
  r = power::windows_power_source::from_status(status(255, 1, 255, 0));  // unknown AC state, unknown percent
  CHECK(!r.on_battery && !r.battery_percent);
  const auto live = power::windows_power_source().read();
  CHECK(!live.error);
  std::printf("     GetSystemPowerStatus: on_battery=%d percent=%s low_power=%d\n", live.on_battery,
              live.battery_percent ? std::to_string(*live.battery_percent).c_str() : "unknown",
              live.low_power_mode);

  // Wake lock: a power request, nested, always released.
  static_assert(std::is_same_v<power::platform_wake_lock, power::windows_power_request>);
  {
    power::windows_power_request request;
    {
      power::scoped_wake_lock outer(request);
      power::scoped_wake_lock inner(request);
      if (wine) {
        // Wine 8 does not implement PowerCreateRequest: a counted failure with the call's name and the error.
        CHECK(!request.held());
        CHECK(request.failures() == 1);
        CHECK(request.last_error().value() == ERROR_CALL_NOT_IMPLEMENTED);
        CHECK(request.last_error_detail().find("PowerCreateRequest") != std::string::npos);
      } else {
        CHECK(request.held());
        CHECK(request.failures() == 0);
      }
      inner.release();
      CHECK(request.held() == !wine);  // still held by `outer`
    }
    CHECK(!request.held());
    std::printf("     power request: failures=%llu detail=\"%s\"\n",
                static_cast<unsigned long long>(request.failures()), request.last_error_detail().c_str());
  }

  // Timer slack: per-thread slack does not exist here, and the error says where tolerance goes instead.
  const auto slack = power::set_thread_timer_slack(std::chrono::milliseconds(1));
  CHECK(slack == power::platform_errc::timer_slack_not_supported);
  CHECK(slack == std::errc::not_supported);
  CHECK(slack.message().find("SetWaitableTimerEx") != std::string::npos);
  CHECK(power::set_thread_timer_slack(std::chrono::nanoseconds(-1)) == std::errc::invalid_argument);
  CHECK(!power::thread_timer_slack_supported());

  // Thermal: no unprivileged API, so the platform sensor is the one that says so.
  static_assert(std::is_same_v<power::platform_thermal_sensor, power::unsupported_thermal_sensor>);
  CHECK(power::platform_thermal_sensor().read().error == std::errc::not_supported);
  // The sysfs classes still build; on Windows their directories do not exist.
  CHECK(bool(power::sysfs_thermal_sensor().read().error));
  CHECK(!power::rapl_meter().readable());

  constexpr auto model = power::platform_energy_model();
  CHECK(model.joules_per_wakeup > 0 && model.active_watts > model.idle_watts);

  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
