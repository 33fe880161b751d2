// Thermal sensors: Linux sysfs zones against trip points and fixed thresholds, errors as values, the fake, and the
// Android sensor's dlsym path against a fake libandroid.so.
#include <powerbatch/power/thermal.hpp>

#include "temp_tree.hpp"

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <string>
#include <thread>

namespace power = powerbatch::power;
using power::thermal_level;
using pb_test::temp_tree;

namespace {

std::string millic(double celsius) { return std::to_string(static_cast<long long>(celsius * 1000)); }

void write_zone(const temp_tree& tree, int zone, double celsius) {
  tree.write("thermal_zone" + std::to_string(zone) + "/temp", millic(celsius));
}

void write_trip(const temp_tree& tree, int zone, int index, const std::string& type, double celsius) {
  const std::string base = "thermal_zone" + std::to_string(zone) + "/trip_point_" + std::to_string(index);
  tree.write(base + "_type", type);
  tree.write(base + "_temp", millic(celsius));
}

thermal_level level_at(const temp_tree& tree, double celsius, int zone = 0) {
  write_zone(tree, zone, celsius);
  const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
  INFO(reading.detail);
  REQUIRE_FALSE(reading.error);
  return reading.level;
}

}  // namespace

TEST_CASE("sysfs thermal: a zone steps through the levels against its own trip points", "[thermal]") {
  temp_tree tree;
  write_trip(tree, 0, 0, "active", 60);
  write_trip(tree, 0, 1, "passive", 80);
  write_trip(tree, 0, 2, "hot", 95);
  write_trip(tree, 0, 3, "critical", 105);
  tree.mkdir("cooling_device0");  // not a zone: must be ignored

  CHECK(level_at(tree, 45.0) == thermal_level::nominal);
  CHECK(level_at(tree, 61.0) == thermal_level::light);  // the fan trip is crossed
  CHECK(level_at(tree, 80.0) == thermal_level::moderate);
  CHECK(level_at(tree, 94.9) == thermal_level::moderate);
  CHECK(level_at(tree, 95.0) == thermal_level::severe);
  CHECK(level_at(tree, 105.0) == thermal_level::critical);
  CHECK(level_at(tree, 50.0) == thermal_level::nominal);  // and back down

  write_zone(tree, 0, 81.5);
  const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
  REQUIRE(reading.celsius);
  CHECK(*reading.celsius == Approx(81.5));
  CHECK_FALSE(reading.headroom);
}

TEST_CASE("sysfs thermal: approaching the passive trip reads light", "[thermal]") {
  temp_tree tree;
  write_trip(tree, 0, 0, "passive", 80);
  write_trip(tree, 0, 1, "critical", 0);  // disabled trip: ignored
  CHECK(level_at(tree, 74.9) == thermal_level::nominal);
  CHECK(level_at(tree, 75.0) == thermal_level::light);
  CHECK(level_at(tree, 80.0) == thermal_level::moderate);

  power::sysfs_thermal_sensor::params p;
  p.root = tree.root();
  p.approach_margin_celsius = 10;
  write_zone(tree, 0, 71);
  CHECK(power::sysfs_thermal_sensor(p).read().level == thermal_level::light);
}

TEST_CASE("sysfs thermal: zones without passive or hot trips use the fixed thresholds", "[thermal]") {
  temp_tree tree;
  write_trip(tree, 0, 0, "critical", 120);  // many ACPI zones list only this
  CHECK(level_at(tree, 64.0) == thermal_level::nominal);
  CHECK(level_at(tree, 65.0) == thermal_level::light);
  CHECK(level_at(tree, 75.0) == thermal_level::moderate);
  CHECK(level_at(tree, 85.0) == thermal_level::severe);
  CHECK(level_at(tree, 95.0) == thermal_level::critical);

  temp_tree bare;  // no trip points at all
  CHECK(level_at(bare, 70.0) == thermal_level::light);

  power::sysfs_thermal_sensor::params p;
  p.root = bare.root();
  p.light_celsius = 40;
  p.moderate_celsius = 50;
  p.severe_celsius = 60;
  p.critical_celsius = 70;
  write_zone(bare, 0, 55);
  CHECK(power::sysfs_thermal_sensor(p).read().level == thermal_level::moderate);
}

TEST_CASE("sysfs thermal: the level is the worst zone's, celsius the hottest zone's", "[thermal]") {
  temp_tree tree;
  write_zone(tree, 0, 90);  // hottest, but its passive trip is at 100: nominal (90 < 100 - 5)
  write_trip(tree, 0, 0, "passive", 100);
  write_zone(tree, 1, 72);  // cooler, but past its passive trip at 70
  write_trip(tree, 1, 0, "passive", 70);
  const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
  REQUIRE_FALSE(reading.error);
  CHECK(reading.level == thermal_level::moderate);
  REQUIRE(reading.celsius);
  CHECK(*reading.celsius == Approx(90));
}

TEST_CASE("sysfs thermal: missing and malformed files are errors that name the file", "[thermal][errors]") {
  SECTION("missing root") {
    temp_tree tree;
    const auto reading = power::sysfs_thermal_sensor(tree / "nope").read();
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains((tree / "nope").string()));
    CHECK(reading.level == thermal_level::nominal);
  }
  SECTION("no zone at all") {
    temp_tree tree;
    tree.mkdir("cooling_device0");
    const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
    CHECK(reading.error == power::platform_errc::no_sensor);
    CHECK(reading.error == std::errc::no_such_device);
    CHECK_THAT(reading.detail, Catch::Contains("no thermal_zone"));
  }
  SECTION("missing temp") {
    temp_tree tree;
    write_trip(tree, 0, 0, "passive", 80);
    const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains("thermal_zone0/temp"));
    CHECK_FALSE(reading.celsius);
  }
  SECTION("non-numeric temp") {
    temp_tree tree;
    tree.write("thermal_zone0/temp", "hot!");
    const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
    CHECK(reading.error == power::platform_errc::malformed_value);
    CHECK(reading.error == std::errc::invalid_argument);
    CHECK_THAT(reading.detail, Catch::Contains("thermal_zone0/temp") && Catch::Contains("\"hot!\""));
  }
  SECTION("trailing garbage after the number") {
    temp_tree tree;
    tree.write("thermal_zone0/temp", "45000x");
    CHECK(power::sysfs_thermal_sensor(tree.root()).read().error == power::platform_errc::malformed_value);
  }
  SECTION("unknown trip type") {
    temp_tree tree;
    write_zone(tree, 0, 50);
    write_trip(tree, 0, 0, "warm", 80);
    const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
    CHECK(reading.error == power::platform_errc::malformed_value);
    CHECK_THAT(reading.detail, Catch::Contains("trip_point_0_type") && Catch::Contains("warm"));
  }
  SECTION("trip temperature without its type") {
    temp_tree tree;
    write_zone(tree, 0, 50);
    tree.write("thermal_zone0/trip_point_0_temp", "80000");
    const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains("trip_point_0_type"));
  }
  SECTION("one unreadable zone does not hide the others") {
    temp_tree tree;
    tree.write("thermal_zone0/temp", "garbage");
    write_zone(tree, 1, 72);
    write_trip(tree, 1, 0, "passive", 70);
    const auto reading = power::sysfs_thermal_sensor(tree.root()).read();
    CHECK_FALSE(reading.error);
    CHECK(reading.detail.empty());
    CHECK(reading.level == thermal_level::moderate);
  }
}

TEST_CASE("fake thermal sensor: set from one thread, read from another, reads counted", "[thermal][fake]") {
  power::fake_thermal_sensor sensor;
  CHECK(sensor.read().level == thermal_level::nominal);
  sensor.set(thermal_level::severe);
  sensor.set_celsius(88.0);
  const auto hot = sensor.read();
  CHECK(hot.level == thermal_level::severe);
  CHECK(hot.celsius == 88.0);
  sensor.set_error(power::make_error_code(power::platform_errc::api_unavailable), "test");
  CHECK(sensor.read().error == power::platform_errc::api_unavailable);
  sensor.set_error({});

  std::thread setter([&] {
    for (int i = 0; i < 1000; ++i) sensor.set(static_cast<thermal_level>(i % 5));
  });
  for (int i = 0; i < 1000; ++i) CHECK(sensor.read().level <= thermal_level::critical);
  setter.join();
  CHECK(sensor.reads() == 1003);
  CHECK(power::to_string(thermal_level::moderate) == "moderate");
}

TEST_CASE("thermal: platform sensor is the sysfs one on Linux, and the unsupported one says so", "[thermal]") {
#if defined(__linux__) && !defined(__ANDROID__)
  STATIC_REQUIRE(std::is_same_v<power::platform_thermal_sensor, power::sysfs_thermal_sensor>);
  CHECK(power::platform_thermal_sensor().parameters().root == "/sys/class/thermal");
#endif
  const auto reading = power::unsupported_thermal_sensor().read();
  CHECK(reading.error == std::errc::not_supported);
  CHECK_FALSE(reading.detail.empty());
}

#if defined(PB_FAKE_LIBANDROID)
namespace {
struct fake_android {
  void* handle = ::dlopen(PB_FAKE_LIBANDROID, RTLD_NOW);
  template <class F>
  F get(const char* name) {
    REQUIRE(handle != nullptr);
    return reinterpret_cast<F>(::dlsym(handle, name));
  }
  ~fake_android() {
    if (handle != nullptr) ::dlclose(handle);
  }
};
}  // namespace

TEST_CASE("android thermal: AThermal status and headroom through dlsym (fake libandroid.so)", "[thermal][android]") {
  fake_android lib;
  auto set_status = lib.get<void (*)(int)>("fake_set_status");
  auto set_headroom = lib.get<void (*)(float)>("fake_set_headroom");
  auto headroom_calls = lib.get<int (*)()>("fake_headroom_calls");
  auto managers_held = lib.get<int (*)()>("fake_managers_held");
  set_status(0);
  set_headroom(0.25f);
  {
    power::android_thermal_sensor sensor(PB_FAKE_LIBANDROID);
    REQUIRE_FALSE(sensor.init_error());
    CHECK(sensor.has_headroom());
    CHECK(managers_held() == 1);

    const int calls_before = headroom_calls();
    auto reading = sensor.read();
    CHECK(reading.level == thermal_level::nominal);
    REQUIRE(reading.headroom);
    CHECK(*reading.headroom == Approx(0.25));

    // Within a second the headroom is not polled again: the last value is reported.
    set_headroom(0.9f);
    set_status(3);
    reading = sensor.read();
    CHECK(reading.level == thermal_level::severe);
    CHECK(*reading.headroom == Approx(0.25));
    CHECK(headroom_calls() == calls_before + 1);

    const int expected[] = {0, 1, 2, 3, 4, 4, 4};  // EMERGENCY and SHUTDOWN fold into critical
    for (int status = 0; status <= 6; ++status) {
      set_status(status);
      CHECK(static_cast<int>(sensor.read().level) == expected[status]);
    }
    set_status(-1);
    reading = sensor.read();
    CHECK(reading.error == power::platform_errc::api_unavailable);
    CHECK_THAT(reading.detail, Catch::Contains("ATHERMAL_STATUS_ERROR"));
  }
  CHECK(managers_held() == 0);  // the destructor released the manager
}

TEST_CASE("android thermal: a missing library or API level is a clear error", "[thermal][android]") {
  power::android_thermal_sensor missing("libpowerbatch-does-not-exist.so");
  CHECK(missing.init_error() == power::platform_errc::api_unavailable);
  auto reading = missing.read();
  CHECK(reading.error == std::errc::not_supported);
  CHECK_THAT(reading.detail, Catch::Contains("libpowerbatch-does-not-exist.so"));

  power::android_thermal_sensor old_android("libc.so.6");  // loads, but has no AThermal_* symbols
  reading = old_android.read();
  CHECK(reading.error == power::platform_errc::api_unavailable);
  CHECK_THAT(reading.detail, Catch::Contains("API level 30"));
}
#endif
