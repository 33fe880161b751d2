// power::sysfs_power_source — Linux power supplies (/sys/class/power_supply/*), and the ACPI platform profile.
//
// Each entry has a `type`. External supplies (Mains, USB and its USB_* variants, Wireless, BrickID) with
// online = 1 mean the machine is on external power. Otherwise, a system Battery whose status is Discharging
// means on battery. Batteries with scope = Device (mice, keyboards, headsets) are ignored, as are UPS entries.
// battery_percent is the mean `capacity` of the system batteries. A directory with no entries at all is a
// desktop, server or VM without power-supply drivers: on mains, no error.
// low_power_mode is true when /sys/firmware/acpi/platform_profile (path injectable; absent on most machines, which
// is no error) reads "low-power"; desktop tools such as power-profiles-daemon set it in power-saver mode.
//
// Any unreadable or malformed file sets `error` with `detail` naming it; the other entries are still read.
// Thread safety: read() is const and may run on several threads at once. Poll once per sensor period.
#pragma once

#include <powerbatch/power/platform/power_reading.hpp>
#include <powerbatch/power/platform/sysfs.hpp>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class sysfs_power_source {
 public:
  struct params {
    std::filesystem::path root = "/sys/class/power_supply";
    std::filesystem::path platform_profile = "/sys/firmware/acpi/platform_profile";
  };

  sysfs_power_source() = default;
  explicit sysfs_power_source(params p) : params_(std::move(p)) {}
  explicit sysfs_power_source(std::filesystem::path root) { params_.root = std::move(root); }

  const params& parameters() const noexcept { return params_; }

  power_reading read() const {
    power_reading reading;
    std::error_code ec;
    std::vector<std::filesystem::path> entries;
    for (std::filesystem::directory_iterator it(params_.root, ec), end; !ec && it != end; it.increment(ec))
      entries.push_back(it->path());
    if (ec) {
      note(reading, ec, sysfs::describe(params_.root, ec));
      return reading;
    }
    std::sort(entries.begin(), entries.end());

    bool external_online = false;
    bool discharging = false;
    double capacity_sum = 0;
    int capacities = 0;
    for (const auto& entry : entries) {
      const sysfs::text_result type = sysfs::read_text(entry / "type");
      if (type.error) {
        note(reading, type.error, type.detail);
        continue;
      }
      if (type.text == "Battery") {
        const sysfs::text_result scope = sysfs::read_text(entry / "scope");
        if (!scope.error && scope.text == "Device") continue;  // a peripheral's battery
        const sysfs::text_result status = sysfs::read_text(entry / "status");
        if (status.error) note(reading, status.error, status.detail);
        else if (status.text == "Discharging") discharging = true;
        const sysfs::integer_result capacity = sysfs::read_integer(entry / "capacity");
        if (!capacity.error) {
          capacity_sum += static_cast<double>(std::clamp(capacity.value, 0LL, 100LL));
          ++capacities;
        } else if (capacity.error != std::error_code(ENOENT, std::generic_category())) {
          note(reading, capacity.error, capacity.detail);  // some batteries report only energy_now: no capacity
        }
      } else if (is_external_supply(type.text)) {
        const sysfs::integer_result online = sysfs::read_integer(entry / "online");
        if (online.error) note(reading, online.error, online.detail);
        else if (online.value == 1) external_online = true;
      }
    }
    reading.on_battery = !external_online && discharging;
    if (capacities > 0) reading.battery_percent = capacity_sum / capacities;

    if (!params_.platform_profile.empty()) {
      const sysfs::text_result profile = sysfs::read_text(params_.platform_profile);
      if (!profile.error) reading.low_power_mode = profile.text == "low-power";
      else if (profile.error != std::error_code(ENOENT, std::generic_category()))
        note(reading, profile.error, profile.detail);
    }
    return reading;
  }

 private:
  static bool is_external_supply(const std::string& type) {
    return type == "Mains" || type == "USB" || type.rfind("USB_", 0) == 0 || type == "Wireless" || type == "BrickID";
  }

  // Keeps the first problem: the one a person fixing the set-up should look at first.
  static void note(power_reading& reading, std::error_code error, std::string detail) {
    if (reading.error) return;
    reading.error = error;
    reading.detail = std::move(detail);
  }

  params params_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE
