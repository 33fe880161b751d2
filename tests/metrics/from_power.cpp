// metrics/from_power.hpp: a power::power_account becomes the report's power figures, saying which method made the
// joules.
#include <powerbatch/metrics/from_power.hpp>
#include <powerbatch/metrics/markdown_report.hpp>

#include <catch2/catch.hpp>

namespace pb = powerbatch;
namespace pm = powerbatch::metrics;
using namespace std::chrono_literals;

TEST_CASE("A power account becomes wake-ups and millijoules per request, with its source", "[power]") {
  pb::batcher_stats s;
  s.completed = 90;
  s.backend_failed = 10;
  s.thread_wakeups = 10;
  s.busy_time = 50ms;
  const pb::power::energy_model model{1e-3, 10.0, 0.0, "test model"};

  // Modelled: 10 wake-ups x 1 mJ + 0.05 s x 10 W = 0.51 J over 100 requests and 1 s.
  const pm::power_figures modelled = pm::to_power_figures(pb::power::account(s, 1s, model));
  CHECK(*modelled.wakeups_per_request == Approx(0.1));
  CHECK(*modelled.energy_mj_per_request == Approx(5.1));
  CHECK(*modelled.average_power_mw == Approx(510.0));
  CHECK(modelled.energy_source == "model");

  // Measured: 2 J read from RAPL over 0.5 s.
  const pm::power_figures measured = pm::to_power_figures(pb::power::account(s, 500ms, 2.0));
  CHECK(*measured.energy_mj_per_request == Approx(20.0));
  CHECK(*measured.average_power_mw == Approx(4000.0));
  CHECK(measured.energy_source == "RAPL");
  CHECK_FALSE(measured.battery_percent_per_hour.has_value());

  // No requests: no energy per request rather than a division by zero.
  const pm::power_figures idle = pm::to_power_figures(pb::power::account(pb::batcher_stats{}, 1s, model));
  CHECK_FALSE(idle.energy_mj_per_request.has_value());
  CHECK(*idle.wakeups_per_request == 0.0);

  pm::profile_result r;
  r.name = "modelled";
  r.power = modelled;
  const std::string md = pm::markdown_report(std::span<const pm::profile_result>(&r, 1));
  CHECK(md.find("| 5.1000 | model |") != std::string::npos);
}
