// Energy: RAPL package counters (subzones, psys and the MMIO twin excluded; wraparound; permission denied) and the
// per-platform model.
#include <powerbatch/power/energy.hpp>

#include "temp_tree.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace power = powerbatch::power;
using pb_test::temp_tree;

namespace {

void domain(const temp_tree& tree, const std::string& dir, const std::string& name, long long energy_uj,
            long long max_uj) {
  tree.write(dir + "/name", name);
  tree.write(dir + "/energy_uj", std::to_string(energy_uj));
  tree.write(dir + "/max_energy_range_uj", std::to_string(max_uj));
}

}  // namespace

TEST_CASE("rapl: only package domains are summed, and a wrapped counter adds its range", "[energy][rapl]") {
  temp_tree tree;
  domain(tree, "intel-rapl:0", "package-0", 999000, 1000000);
  domain(tree, "intel-rapl:0/intel-rapl:0:0", "core", 5, 1000000);  // a part of package-0
  domain(tree, "intel-rapl:0:1", "dram", 5, 1000000);                // the same, as a top-level link
  domain(tree, "intel-rapl:1", "psys", 5, 1000000);                  // the whole platform: contains the package
  domain(tree, "intel-rapl-mmio:0", "package-0", 5, 1000000);        // a second interface to package-0

  power::rapl_meter meter(tree.root());
  INFO(meter.error_detail());
  REQUIRE(meter.readable());
  REQUIRE(meter.domain_names() == std::vector<std::string>{"intel-rapl:0 (package-0)"});

  auto reading = meter.read_joules();
  CHECK_FALSE(reading.error);
  CHECK(reading.joules == Approx(0.0));

  tree.write("intel-rapl:0/energy_uj", "999500");
  tree.write("intel-rapl:0/intel-rapl:0:0/energy_uj", "900000");  // must not count
  tree.write("intel-rapl:1/energy_uj", "900000");
  tree.write("intel-rapl-mmio:0/energy_uj", "900000");
  reading = meter.read_joules();
  CHECK(reading.joules == Approx(500e-6));

  tree.write("intel-rapl:0/energy_uj", "300");  // wrapped: 500 uJ to the top, then 300
  reading = meter.read_joules();
  CHECK_FALSE(reading.error);
  CHECK(reading.joules == Approx(1300e-6));

  tree.write("intel-rapl:0/energy_uj", "1300");
  CHECK(meter.read_joules().joules == Approx(2300e-6));
  CHECK(power::measured_energy(meter.read_joules()).source == power::energy_estimate::method::rapl);
}

TEST_CASE("rapl: several packages add up, each with its own wraparound", "[energy][rapl]") {
  temp_tree tree;
  domain(tree, "intel-rapl:0", "package-0", 100, 1000);
  domain(tree, "intel-rapl:1", "package-1", 900, 2000);
  power::rapl_meter meter(tree.root());
  REQUIRE(meter.readable());
  CHECK(meter.domain_names().size() == 2);
  tree.write("intel-rapl:0/energy_uj", "50");   // wrapped: 900 + 50
  tree.write("intel-rapl:1/energy_uj", "1000");  // +100
  CHECK(meter.read_joules().joules == Approx(1050e-6));
}

TEST_CASE("rapl: what makes it unreadable is said clearly", "[energy][rapl][errors]") {
  SECTION("no powercap directory") {
    temp_tree tree;
    power::rapl_meter meter(tree / "powercap");
    CHECK_FALSE(meter.readable());
    CHECK(meter.error() == std::errc::no_such_file_or_directory);
    CHECK_THAT(meter.error_detail(), Catch::Contains("powercap"));
    CHECK(meter.read_joules().error == std::errc::no_such_file_or_directory);
  }
  SECTION("no package domain") {
    temp_tree tree;
    domain(tree, "intel-rapl:1", "psys", 5, 1000);
    power::rapl_meter meter(tree.root());
    CHECK(meter.error() == power::platform_errc::no_sensor);
  }
  SECTION("counter above its range") {
    temp_tree tree;
    domain(tree, "intel-rapl:0", "package-0", 5000, 1000);
    power::rapl_meter meter(tree.root());
    CHECK(meter.error() == power::platform_errc::malformed_value);
    CHECK_THAT(meter.error_detail(), Catch::Contains("energy_uj") && Catch::Contains("max_energy_range_uj"));
  }
  SECTION("non-numeric counter") {
    temp_tree tree;
    domain(tree, "intel-rapl:0", "package-0", 0, 1000);
    tree.write("intel-rapl:0/energy_uj", "n/a");
    power::rapl_meter meter(tree.root());
    CHECK(meter.error() == std::errc::invalid_argument);
  }
  SECTION("a counter that disappears after construction") {
    temp_tree tree;
    domain(tree, "intel-rapl:0", "package-0", 0, 1000);
    power::rapl_meter meter(tree.root());
    REQUIRE(meter.readable());
    tree.remove("intel-rapl:0/energy_uj");
    const auto reading = meter.read_joules();
    CHECK(reading.error == std::errc::no_such_file_or_directory);
    CHECK_THAT(reading.detail, Catch::Contains("intel-rapl:0/energy_uj"));
  }
}

TEST_CASE("rapl: a root-only energy_uj makes the meter unreadable (permission denied)", "[energy][rapl][errors]") {
  temp_tree tree;
  domain(tree, "intel-rapl:0", "package-0", 0, 1000);
  namespace fs = std::filesystem;
  // Everything readable by all but the counter, which is mode 0000 (0400 root-owned on a real kernel).
  for (const auto& p : fs::recursive_directory_iterator(tree.root()))
    fs::permissions(p.path(), p.is_directory() ? fs::perms(0755) : fs::perms(0644));
  fs::permissions(tree.root(), fs::perms(0755));
  fs::permissions(tree / "intel-rapl:0/energy_uj", fs::perms::none);

  // Root reads anything, so when the tests run as root the check runs in a child that drops to "nobody".
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    power::rapl_meter meter(tree.root());
    const bool ok = !meter.readable() && meter.error() == std::errc::permission_denied &&
                    meter.error_detail().find("root-only") != std::string::npos &&
                    meter.error_detail().find("intel-rapl:0/energy_uj") != std::string::npos;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("energy model: linear in wake-ups, busy and idle time, and says it is an estimate", "[energy][model]") {
  constexpr power::energy_model m{0.001, 10.0, 1.0, "test"};
  const auto e = power::estimate_energy(m, 1000, std::chrono::milliseconds(500), std::chrono::seconds(2));
  CHECK(e.joules == Approx(1.0 + 5.0 + 2.0));
  CHECK(e.source == power::energy_estimate::method::model);
  CHECK(power::to_string(e.source) == "estimated (model)");
  CHECK(power::to_string(power::energy_estimate::method::rapl) == "measured (RAPL)");

  constexpr power::energy_model platform = power::platform_energy_model();
  STATIC_REQUIRE(platform.joules_per_wakeup > 0);
  STATIC_REQUIRE(platform.active_watts > platform.idle_watts);
  CHECK_THAT(std::string(platform.source), Catch::StartsWith("estimate"));
}
