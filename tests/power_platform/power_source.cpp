// Power sources: Linux power_supply trees (mains, USB, batteries charging and discharging, peripherals), the
// ACPI platform profile, errors as values, and the fake.
#include <powerbatch/power/power_source.hpp>

#include "temp_tree.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace power = powerbatch::power;
using pb_test::temp_tree;

namespace {

void supply(const temp_tree& tree, const std::string& name, const std::string& type, int online) {
  tree.write(name + "/type", type);
  tree.write(name + "/online", std::to_string(online));
}

void battery(const temp_tree& tree, const std::string& name, const std::string& status, int capacity) {
  tree.write(name + "/type", "Battery");
  tree.write(name + "/status", status);
  tree.write(name + "/capacity", std::to_string(capacity));
}

power::power_reading read(const temp_tree& tree) {
  power::sysfs_power_source::params p;
  p.root = tree.root() / "power_supply";
  p.platform_profile = tree.root() / "platform_profile";
  const auto reading = power::sysfs_power_source(p).read();
  INFO(reading.detail);
  return reading;
}

}  // namespace

TEST_CASE("sysfs power source: mains online means on AC, whatever the battery says", "[power_source]") {
  temp_tree tree;
  supply(tree, "power_supply/AC", "Mains", 1);
  battery(tree, "power_supply/BAT0", "Discharging", 80);  // weak charger: still on external power
  auto reading = read(tree);
  CHECK_FALSE(reading.error);
  CHECK_FALSE(reading.on_battery);
  REQUIRE(reading.battery_percent);
  CHECK(*reading.battery_percent == Approx(80));

  supply(tree, "power_supply/AC", "Mains", 0);
  battery(tree, "power_supply/BAT0", "Discharging", 55);
  reading = read(tree);
  CHECK_FALSE(reading.error);
  CHECK(reading.on_battery);
  CHECK(*reading.battery_percent == Approx(55));
}

TEST_CASE("sysfs power source: USB supplies count as external power", "[power_source]") {
  temp_tree tree;
  supply(tree, "power_supply/AC", "Mains", 0);
  supply(tree, "power_supply/ucsi-source-psy-USBC000:001", "USB", 1);
  battery(tree, "power_supply/BAT0", "Discharging", 30);
  CHECK_FALSE(read(tree).on_battery);

  supply(tree, "power_supply/ucsi-source-psy-USBC000:001", "USB_C", 0);
  CHECK(read(tree).on_battery);
  supply(tree, "power_supply/ucsi-source-psy-USBC000:001", "USB_PD", 1);
  CHECK_FALSE(read(tree).on_battery);
}

TEST_CASE("sysfs power source: battery states", "[power_source]") {
  temp_tree tree;
  battery(tree, "power_supply/BAT0", "Discharging", 42);  // a laptop that lists no AC adapter
  CHECK(read(tree).on_battery);
  battery(tree, "power_supply/BAT0", "Charging", 43);
  CHECK_FALSE(read(tree).on_battery);
  battery(tree, "power_supply/BAT0", "Full", 100);
  CHECK_FALSE(read(tree).on_battery);
  battery(tree, "power_supply/BAT0", "Not charging", 60);
  CHECK_FALSE(read(tree).on_battery);

  battery(tree, "power_supply/BAT0", "Discharging", 40);
  battery(tree, "power_supply/BAT1", "Discharging", 60);
  const auto two = read(tree);
  CHECK(two.on_battery);
  CHECK(*two.battery_percent == Approx(50));
}

TEST_CASE("sysfs power source: a peripheral's battery is not the system's", "[power_source]") {
  temp_tree tree;
  supply(tree, "power_supply/AC", "Mains", 1);
  battery(tree, "power_supply/hidpp_battery_0", "Discharging", 15);
  tree.write("power_supply/hidpp_battery_0/scope", "Device");
  const auto reading = read(tree);
  CHECK_FALSE(reading.error);
  CHECK_FALSE(reading.on_battery);
  CHECK_FALSE(reading.battery_percent);

  supply(tree, "power_supply/AC", "Mains", 0);  // even with the mains adapter offline
  CHECK_FALSE(read(tree).on_battery);
}

TEST_CASE("sysfs power source: no power_supply entries is a mains-powered machine", "[power_source]") {
  temp_tree tree;
  tree.mkdir("power_supply");
  const auto reading = read(tree);
  CHECK_FALSE(reading.error);
  CHECK_FALSE(reading.on_battery);
  CHECK_FALSE(reading.battery_percent);
  CHECK_FALSE(reading.low_power_mode);
}

TEST_CASE("sysfs power source: low-power platform profile", "[power_source]") {
  temp_tree tree;
  tree.mkdir("power_supply");
  tree.write("platform_profile", "low-power");
  CHECK(read(tree).low_power_mode);
  tree.write("platform_profile", "balanced");
  CHECK_FALSE(read(tree).low_power_mode);
}

TEST_CASE("sysfs power source: missing and malformed files are errors that name the file", "[power_source][errors]") {
  temp_tree tree;
  SECTION("missing root") {
    const auto reading = power::sysfs_power_source(tree / "nope").read();
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains((tree / "nope").string()));
    CHECK_FALSE(reading.on_battery);
  }
  SECTION("malformed capacity keeps what could be read") {
    supply(tree, "power_supply/AC", "Mains", 0);
    battery(tree, "power_supply/BAT0", "Discharging", 0);
    tree.write("power_supply/BAT0/capacity", "full");
    const auto reading = read(tree);
    CHECK(reading.error == power::platform_errc::malformed_value);
    CHECK_THAT(reading.detail, Catch::Contains("BAT0/capacity") && Catch::Contains("\"full\""));
    CHECK(reading.on_battery);
    CHECK_FALSE(reading.battery_percent);
  }
  SECTION("battery without capacity (energy_now only) is fine") {
    battery(tree, "power_supply/BAT0", "Discharging", 0);
    tree.remove("power_supply/BAT0/capacity");
    const auto reading = read(tree);
    CHECK_FALSE(reading.error);
    CHECK(reading.on_battery);
    CHECK_FALSE(reading.battery_percent);
  }
  SECTION("mains without online") {
    tree.write("power_supply/AC/type", "Mains");
    const auto reading = read(tree);
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains("AC/online"));
  }
  SECTION("entry without type") {
    tree.write("power_supply/BAT0/status", "Discharging");
    const auto reading = read(tree);
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains("BAT0/type"));
  }
  SECTION("non-numeric online") {
    tree.write("power_supply/AC/type", "Mains");
    tree.write("power_supply/AC/online", "yes");
    CHECK(read(tree).error == std::errc::invalid_argument);
  }
}

TEST_CASE("fake power source: set and read, reads counted", "[power_source][fake]") {
  power::fake_power_source source;
  CHECK_FALSE(source.read().on_battery);
  source.set_on_battery(true);
  source.set_battery_percent(12.5);
  source.set_low_power_mode(true);
  const auto reading = source.read();
  CHECK(reading.on_battery);
  CHECK(reading.battery_percent == 12.5);
  CHECK(reading.low_power_mode);
  source.set_error(std::make_error_code(std::errc::io_error), "test");
  CHECK(source.read().error == std::errc::io_error);
  CHECK(source.reads() == 3);
#if defined(__linux__) && !defined(__ANDROID__)
  STATIC_REQUIRE(std::is_same_v<power::platform_power_source, power::sysfs_power_source>);
#endif
}
