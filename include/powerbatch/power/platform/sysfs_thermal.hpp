// power::sysfs_thermal_sensor — Linux thermal zones (/sys/class/thermal/thermal_zone*/temp, in millidegrees C).
//
// The level is the highest over all readable zones; celsius is the hottest zone's temperature.
// A zone with a passive or hot trip point is judged against its own trip points:
//   temp >= a critical trip                          -> critical  (the kernel shuts down here)
//   temp >= a hot trip                               -> severe    (platform-specific emergency action)
//   temp >= the lowest passive trip                  -> moderate  (the kernel is throttling the CPU now)
//   an active (fan) trip crossed, or temp within approach_margin_celsius below the lowest passive trip
//                                                    -> light     (cooling has started, throttling is near)
//   otherwise                                        -> nominal
// A zone without a passive or hot trip (many ACPI zones list only critical) is judged against fixed thresholds
// (params; 65/75/85/95 C by default, below the ~100 C at which x86 cores throttle themselves), and a critical
// trip still means critical. Trip points at or below 0 C are treated as disabled.
//
// A zone that cannot be read (missing or malformed file, or ENODATA, which e.g. iwlwifi's zone returns while the
// interface is down) is skipped: one flaky zone must not blind the policy. The reading is an error only when no
// zone could be read; `detail` then names the first file at fault. Reads re-scan the directory, so a read costs a
// few dozen small file reads: poll once per sensor period, never per request. Thread safety: read() is const and
// may run on several threads at once.
#pragma once

#include <powerbatch/power/platform/sysfs.hpp>
#include <powerbatch/power/platform/thermal_reading.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class sysfs_thermal_sensor {
 public:
  struct params {
    std::filesystem::path root = "/sys/class/thermal";
    double light_celsius = 65;
    double moderate_celsius = 75;
    double severe_celsius = 85;
    double critical_celsius = 95;
    double approach_margin_celsius = 5;
  };

  sysfs_thermal_sensor() = default;
  explicit sysfs_thermal_sensor(params p) : params_(std::move(p)) {}
  explicit sysfs_thermal_sensor(std::filesystem::path root) { params_.root = std::move(root); }

  const params& parameters() const noexcept { return params_; }

  thermal_reading read() const {
    thermal_reading reading;
    std::error_code ec;
    std::vector<std::filesystem::path> zones;
    for (std::filesystem::directory_iterator it(params_.root, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename().string().rfind("thermal_zone", 0) == 0) zones.push_back(it->path());
    if (ec) {
      reading.error = ec;
      reading.detail = sysfs::describe(params_.root, ec);
      return reading;
    }
    if (zones.empty()) {
      reading.error = make_error_code(platform_errc::no_sensor);
      reading.detail = params_.root.string() + ": no thermal_zone* directory";
      return reading;
    }
    std::sort(zones.begin(), zones.end());

    bool any = false;
    for (const auto& zone : zones) {
      zone_result z = read_zone(zone);
      if (z.error) {
        if (reading.detail.empty()) {
          reading.error = z.error;
          reading.detail = std::move(z.detail);
        }
        continue;
      }
      if (!any || z.celsius > *reading.celsius) reading.celsius = z.celsius;
      reading.level = std::max(reading.level, z.level);
      any = true;
    }
    if (any) {
      reading.error.clear();
      reading.detail.clear();
    } else {
      reading.level = thermal_level::nominal;
    }
    return reading;
  }

 private:
  struct zone_result {
    double celsius = 0;
    thermal_level level = thermal_level::nominal;
    std::error_code error;
    std::string detail;
  };

  struct trips {
    std::optional<double> lowest_passive, lowest_active, lowest_hot, lowest_critical;
  };

  static void keep_lowest(std::optional<double>& slot, double value) {
    if (!slot || value < *slot) slot = value;
  }

  zone_result read_zone(const std::filesystem::path& zone) const {
    zone_result result;
    const sysfs::integer_result temp = sysfs::read_integer(zone / "temp");
    if (temp.error) {
      result.error = temp.error;
      result.detail = temp.detail;
      return result;
    }
    result.celsius = static_cast<double>(temp.value) / 1000.0;

    trips t;
    for (int i = 0;; ++i) {
      const auto temp_path = zone / ("trip_point_" + std::to_string(i) + "_temp");
      std::error_code exists_ec;
      if (!std::filesystem::exists(temp_path, exists_ec)) break;
      const sysfs::integer_result trip_temp = sysfs::read_integer(temp_path);
      const sysfs::text_result trip_type = sysfs::read_text(zone / ("trip_point_" + std::to_string(i) + "_type"));
      if (trip_temp.error || trip_type.error) {
        result.error = trip_temp.error ? trip_temp.error : trip_type.error;
        result.detail = trip_temp.error ? trip_temp.detail : trip_type.detail;
        return result;
      }
      if (trip_temp.value <= 0) continue;  // disabled trip
      const double celsius = static_cast<double>(trip_temp.value) / 1000.0;
      if (trip_type.text == "passive") keep_lowest(t.lowest_passive, celsius);
      else if (trip_type.text == "active") keep_lowest(t.lowest_active, celsius);
      else if (trip_type.text == "hot") keep_lowest(t.lowest_hot, celsius);
      else if (trip_type.text == "critical") keep_lowest(t.lowest_critical, celsius);
      else {
        result.error = make_error_code(platform_errc::malformed_value);
        result.detail = (zone / ("trip_point_" + std::to_string(i) + "_type")).string() +
                        ": expected active, passive, hot or critical, found \"" + trip_type.text + "\"";
        return result;
      }
    }
    result.level = level_for(result.celsius, t);
    return result;
  }

  thermal_level level_for(double c, const trips& t) const {
    if (t.lowest_critical && c >= *t.lowest_critical) return thermal_level::critical;
    if (t.lowest_passive || t.lowest_hot) {
      if (t.lowest_hot && c >= *t.lowest_hot) return thermal_level::severe;
      if (t.lowest_passive && c >= *t.lowest_passive) return thermal_level::moderate;
      if (t.lowest_active && c >= *t.lowest_active) return thermal_level::light;
      if (t.lowest_passive && c >= *t.lowest_passive - params_.approach_margin_celsius) return thermal_level::light;
      return thermal_level::nominal;
    }
    if (c >= params_.critical_celsius) return thermal_level::critical;
    if (c >= params_.severe_celsius) return thermal_level::severe;
    if (c >= params_.moderate_celsius) return thermal_level::moderate;
    if (c >= params_.light_celsius) return thermal_level::light;
    if (t.lowest_active && c >= *t.lowest_active) return thermal_level::light;
    return thermal_level::nominal;
  }

  params params_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE
