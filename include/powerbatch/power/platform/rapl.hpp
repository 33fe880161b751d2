// power::rapl_meter — measured package energy from Linux powercap RAPL counters
// (/sys/class/powercap/intel-rapl:N/energy_uj; AMD Zen parts report through the same driver and names).
//
// Only top-level domains named package-N are summed: their subzones (core, uncore, dram under intel-rapl:N:M) are
// parts of the package and would be counted twice, psys (the whole platform) contains the packages, and
// intel-rapl-mmio:N is a second interface to the same package counter. Each counter wraps at
// max_energy_range_uj: a value lower than the previous one means it wrapped once, so max_energy_range_uj is added
// (read at least once per wrap period, tens of minutes at typical package power). read_joules() returns joules since
// the meter was constructed.
//
// Since Linux 5.10 energy_uj is readable by root only (CVE-2020-8694, the PLATYPUS power side channel), so for most
// processes readable() is false and error() says why; then use the energy model (energy.hpp) instead.
// Thread safety: all members may be called from any thread (one mutex).
#pragma once

#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/sysfs.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

struct rapl_reading {
  double joules = 0;  // since the meter was constructed, all package domains together
  std::error_code error;
  std::string detail;
};

class rapl_meter {
 public:
  explicit rapl_meter(std::filesystem::path root = "/sys/class/powercap") : root_(std::move(root)) { discover(); }

  // True when every package counter could be read at construction.
  bool readable() const noexcept { return !init_error_; }
  std::error_code error() const noexcept { return init_error_; }
  const std::string& error_detail() const noexcept { return init_detail_; }
  // The package domains found, e.g. "intel-rapl:0 (package-0)".
  std::vector<std::string> domain_names() const {
    std::vector<std::string> names;
    for (const auto& d : domains_) names.push_back(d.dir.filename().string() + " (" + d.name + ")");
    return names;
  }

  rapl_reading read_joules() {
    rapl_reading reading;
    std::lock_guard lock(mutex_);
    if (init_error_) {
      reading.error = init_error_;
      reading.detail = init_detail_;
      return reading;
    }
    for (auto& d : domains_) {
      const sysfs::integer_result now = sysfs::read_integer(d.dir / "energy_uj");
      if (now.error) {
        if (!reading.error) {
          reading.error = now.error;
          reading.detail = now.detail;
        }
        continue;
      }
      const auto value = static_cast<std::uint64_t>(now.value);
      const std::uint64_t delta = value >= d.last ? value - d.last : value + (d.max_range - d.last);
      d.accumulated_uj += delta;
      d.last = value;
    }
    for (const auto& d : domains_) reading.joules += static_cast<double>(d.accumulated_uj) * 1e-6;
    return reading;
  }

 private:
  struct domain {
    std::filesystem::path dir;
    std::string name;
    std::uint64_t max_range = 0;
    std::uint64_t last = 0;
    std::uint64_t accumulated_uj = 0;
  };

  static bool is_top_level_rapl(const std::string& entry) {
    const std::string prefix = "intel-rapl:";
    if (entry.rfind(prefix, 0) != 0 || entry.size() == prefix.size()) return false;
    return std::all_of(entry.begin() + static_cast<std::ptrdiff_t>(prefix.size()), entry.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  }

  void fail(std::error_code error, std::string detail) {
    if (init_error_) return;
    init_error_ = error;
    init_detail_ = std::move(detail);
  }

  void discover() {
    std::error_code ec;
    std::vector<std::filesystem::path> candidates;
    for (std::filesystem::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec))
      if (is_top_level_rapl(it->path().filename().string())) candidates.push_back(it->path());
    if (ec) return fail(ec, sysfs::describe(root_, ec) + " (no powercap RAPL driver?)");
    std::sort(candidates.begin(), candidates.end());
    for (const auto& dir : candidates) {
      const sysfs::text_result name = sysfs::read_text(dir / "name");
      if (name.error) return fail(name.error, name.detail);
      if (name.text.rfind("package", 0) != 0) continue;  // psys and others overlap the packages
      domain d{dir, name.text};
      const sysfs::integer_result range = sysfs::read_integer(dir / "max_energy_range_uj");
      if (range.error) return fail(range.error, range.detail);
      const sysfs::integer_result first = sysfs::read_integer(dir / "energy_uj");
      if (first.error) {
        std::string detail = first.detail;
        if (first.error == std::error_code(EACCES, std::generic_category()))
          detail += " (root-only since Linux 5.10, CVE-2020-8694; run as root or use the energy model)";
        return fail(first.error, std::move(detail));
      }
      if (range.value <= 0 || first.value < 0 || first.value > range.value)
        return fail(make_error_code(platform_errc::malformed_value),
                    (dir / "energy_uj").string() + ": " + std::to_string(first.value) +
                        " is outside 0.." + std::to_string(range.value) + " (max_energy_range_uj)");
      d.max_range = static_cast<std::uint64_t>(range.value);
      d.last = static_cast<std::uint64_t>(first.value);
      domains_.push_back(std::move(d));
    }
    if (domains_.empty())
      fail(make_error_code(platform_errc::no_sensor), root_.string() + ": no intel-rapl:N package domain");
  }

  std::filesystem::path root_;
  std::vector<domain> domains_;
  std::error_code init_error_;
  std::string init_detail_;
  std::mutex mutex_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE
