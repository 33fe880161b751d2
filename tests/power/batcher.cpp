// The profiles inside a real batcher on the manual clock: temperatures written into a fake sysfs thermal tree step
// through trip points, a fake power_supply tree is unplugged and plugged in, and the batches that reach the backend
// show the reaction within one sensor period, its relaxation after cooling (with hysteresis), and low priority
// deferred and released.
#include "power_test_support.hpp"
#include "test_support.hpp"

#include <powerbatch/power/profiles.hpp>
#include <powerbatch/power/thermal.hpp>
#include <powerbatch/power/power_source.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

using namespace pbtest;
namespace pw = powerbatch::power;

namespace {

using governed_batcher = pb::Batcher<pb::queue::mutex_deque, pw::balanced<pb::timeout::size_or_delay>,
                                     pb::priority::strict_levels<3>, recording_backend, pb::manual_clock>;

// A directory under the system's temp dir, removed at the end of the test.
struct temp_tree {
  std::filesystem::path root;
  temp_tree() {
    std::random_device seed;
    root = std::filesystem::temp_directory_path() / ("powerbatch_power_" + std::to_string(seed()));
    std::filesystem::create_directories(root);
  }
  ~temp_tree() {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  void write(const std::filesystem::path& relative, const std::string& text) const {
    std::filesystem::create_directories((root / relative).parent_path());
    std::ofstream(root / relative) << text << '\n';
  }
};

// thermal_zone0 with a passive trip at 70 C, a hot one at 90 C and a critical one at 105 C.
struct thermal_tree : temp_tree {
  thermal_tree() {
    write("thermal_zone0/type", "x86_pkg_temp");
    write("thermal_zone0/trip_point_0_temp", "70000");
    write("thermal_zone0/trip_point_0_type", "passive");
    write("thermal_zone0/trip_point_1_temp", "90000");
    write("thermal_zone0/trip_point_1_type", "hot");
    write("thermal_zone0/trip_point_2_temp", "105000");
    write("thermal_zone0/trip_point_2_type", "critical");
    set_celsius(40);
  }
  void set_celsius(int c) const { write("thermal_zone0/temp", std::to_string(c * 1000)); }
};

// A laptop: AC adapter and one system battery.
struct supply_tree : temp_tree {
  supply_tree() {
    write("AC/type", "Mains");
    write("BAT0/type", "Battery");
    write("BAT0/capacity", "80");
    plug_in();
  }
  void plug_in() const {
    write("AC/online", "1");
    write("BAT0/status", "Charging");
  }
  void unplug() const {
    write("AC/online", "0");
    write("BAT0/status", "Discharging");
  }
  pw::sysfs_power_source sensor() const {
    pw::sysfs_power_source::params p;
    p.root = root;
    p.platform_profile = root / "platform_profile";  // absent: no low-power mode, no error
    return pw::sysfs_power_source(p);
  }
};

constexpr pw::environment_options test_sensors{.sensor_period = 1s, .cool_down = 3s};

governed_batcher::config config_with(std::shared_ptr<pw::environment> env) {
  governed_batcher::config cfg;
  cfg.timeout.inner.max_batch_size = 32;
  cfg.timeout.inner.max_delay = 10ms;
  cfg.timeout.env = std::move(env);
  cfg.max_in_flight = 4;
  return cfg;
}

std::vector<std::size_t> sizes(const std::vector<std::vector<int>>& batches, std::size_t from = 0) {
  std::vector<std::size_t> out;
  for (std::size_t i = from; i < batches.size(); ++i) out.push_back(batches[i].size());
  return out;
}

void submit_many(governed_batcher& b, manual_loop& loop, int first_id, int count,
                 pb::request_options options = {}) {
  for (int id = first_id; id < first_id + count; ++id) b.async_submit(item{id}, options, loop.recorder(id));
  loop.settle();
}

// When a batch whose window of `window` opened at `oldest` leaves under balanced (100 ms tolerance, 16 ms grid).
pb::time_point balanced_flush(pb::time_point oldest, pb::duration window) {
  return pw::aligned_flush_time(oldest + window, 100ms, pw::wake_grid(100ms));
}

}  // namespace

TEST_CASE("Temperatures through the trip points cap batches and stretch the window within one sensor period, "
          "and relax after cooling",
          "[power][thermal][sysfs]") {
  manual_loop loop;
  thermal_tree zone;
  auto env = pw::make_environment(pw::sysfs_thermal_sensor(zone.root), pw::mains_power{}, test_sensors);
  recording_backend backend;
  governed_batcher b(loop.context.get_executor(), backend, config_with(env));
  const pb::time_point t0 = pb::manual_clock::now();

  // 40 C, nominal: a full batch at once, the rest at the last 16 ms tick within 100 ms after its 10 ms window.
  submit_many(b, loop, 0, 40);
  CHECK(sizes(backend.log->snapshot()) == std::vector<std::size_t>{32});
  pb::manual_clock::set(balanced_flush(t0, 10ms) - 1ms);
  loop.settle();
  CHECK(backend.log->batch_count() == 1);
  loop.advance(1ms);
  CHECK(sizes(backend.log->snapshot()) == std::vector<std::size_t>{32, 8});
  CHECK(b.stats().flushes(pb::flush_reason::thermal) == 0);

  // 72 C: past the passive trip, moderate. One sensor period later the batcher caps at 16, windows double.
  zone.set_celsius(72);
  pb::manual_clock::set(t0 + 1s);
  const pb::time_point t1 = pb::manual_clock::now();
  submit_many(b, loop, 100, 40);
  CHECK(sizes(backend.log->snapshot(), 2) == std::vector<std::size_t>{16, 16});
  CHECK(b.stats().flushes(pb::flush_reason::thermal) == 2);
  pb::manual_clock::set(balanced_flush(t1, 20ms) - 1ms);
  loop.settle();
  CHECK(backend.log->batch_count() == 4);
  loop.advance(1ms);
  CHECK(sizes(backend.log->snapshot(), 2) == std::vector<std::size_t>{16, 16, 8});
  CHECK(env->state().celsius == Approx(72));

  // 92 C: past the hot trip, severe: batches of 8, window x4.
  zone.set_celsius(92);
  pb::manual_clock::set(t0 + 2s);
  const pb::time_point t2 = pb::manual_clock::now();
  submit_many(b, loop, 200, 20);
  CHECK(sizes(backend.log->snapshot(), 5) == std::vector<std::size_t>{8, 8});
  pb::manual_clock::set(balanced_flush(t2, 40ms) - 1ms);
  loop.settle();
  CHECK(backend.log->batch_count() == 7);
  loop.advance(1ms);
  CHECK(sizes(backend.log->snapshot(), 5) == std::vector<std::size_t>{8, 8, 4});

  // Back to 40 C. The reaction holds for the 3 s cool-down (hysteresis), then the batcher is itself again.
  zone.set_celsius(40);
  pb::manual_clock::set(t0 + 3s);
  submit_many(b, loop, 300, 16);
  CHECK(sizes(backend.log->snapshot(), 8) == std::vector<std::size_t>{8, 8});
  pb::manual_clock::set(t0 + 5s);
  submit_many(b, loop, 400, 16);
  CHECK(sizes(backend.log->snapshot(), 8) == std::vector<std::size_t>{8, 8, 8, 8});
  pb::manual_clock::set(t0 + 6s);
  submit_many(b, loop, 500, 40);
  CHECK(sizes(backend.log->snapshot(), 12) == std::vector<std::size_t>{32});
  CHECK(env->state().now.level == pw::thermal_level::nominal);

  b.async_shutdown(pb::shutdown_mode::drain, [] {});
  loop.settle();
  CHECK(loop.count({}) == 40 + 40 + 20 + 16 + 16 + 40);
}

TEST_CASE("Unplugging defers low priority; a normal request takes it along; charging or a deadline releases it",
          "[power][power_source][sysfs]") {
  manual_loop loop;
  supply_tree supplies;
  supplies.unplug();
  auto env = pw::make_environment(pw::no_thermal_sensor{}, supplies.sensor(), test_sensors);
  recording_backend backend;
  governed_batcher b(loop.context.get_executor(), backend, config_with(env));
  const pb::time_point t0 = pb::manual_clock::now();
  const auto low = pb::request_options{}.with_priority(pb::priority_levels::low);

  // Three low-priority requests on battery: they wait far beyond their window.
  submit_many(b, loop, 1, 3, low);
  loop.advance(2s);
  CHECK(backend.log->batch_count() == 0);
  CHECK(env->state().now.on_battery);
  CHECK(env->state().battery_percent == Approx(80));

  // A normal request arrives: it leaves at once (the oldest request's window is long over), the low ones with it.
  b.async_submit(item{10}, {}, loop.recorder(10));
  loop.settle();
  REQUIRE(backend.log->batch_count() == 1);
  CHECK(backend.log->snapshot()[0] == std::vector<int>{10, 1, 2, 3});

  // Two more low ones; then the charger is plugged in. They leave at the deferral recheck (5 s), not before.
  const pb::time_point deferred_at = pb::manual_clock::now();
  submit_many(b, loop, 20, 2, low);
  supplies.plug_in();
  loop.advance(2s);
  CHECK(backend.log->batch_count() == 1);
  pb::manual_clock::set(pw::align_up(deferred_at + 5s, 32ms));
  loop.settle();
  REQUIRE(backend.log->batch_count() == 2);
  CHECK(backend.log->snapshot()[1] == std::vector<int>{20, 21});
  CHECK_FALSE(env->state().now.on_battery);

  // On battery again: a low-priority request with a 300 ms deadline runs just in time rather than expiring.
  supplies.unplug();
  loop.advance(1s);
  const pb::time_point submitted = pb::manual_clock::now();
  b.async_submit(item{30}, pb::request_options{low}.with_timeout(300ms), loop.recorder(30));
  loop.settle();
  CHECK(env->state().now.on_battery);
  pb::manual_clock::set(submitted + 300ms - pb::timeout::default_deadline_margin - 1us);
  loop.settle();
  CHECK(backend.log->batch_count() == 2);
  loop.advance(1us);
  REQUIRE(backend.log->batch_count() == 3);
  REQUIRE(loop.find(30) != nullptr);
  CHECK_FALSE(loop.find(30)->error);
  CHECK(b.stats().flushes(pb::flush_reason::deadline) == 1);
  CHECK(b.stats().deadline_expired == 0);
  (void)t0;
}

TEST_CASE("A severe level runs one batch at a time and asks again when it finishes", "[power][thermal]") {
  manual_loop loop;
  asio::io_context compute;  // batches stay in flight until this is polled
  auto thermal = std::make_shared<pw::fake_thermal_sensor>(pw::thermal_level::severe);
  auto env = pw::make_environment(thermal, pw::mains_power{}, test_sensors);
  recording_backend backend;
  governed_batcher b(loop.context.get_executor(), compute.get_executor(), backend, config_with(env));

  const auto run_one_batch = [&] {
    compute.restart();
    REQUIRE(compute.poll_one() == 1);
    loop.settle();
  };
  submit_many(b, loop, 0, 24);
  CHECK(b.stats().in_flight == 1);
  CHECK(b.stats().batches == 1);
  run_one_batch();  // the first batch runs; its completion asks the dispatcher again
  CHECK(b.stats().batches == 2);
  CHECK(b.stats().in_flight == 1);
  run_one_batch();
  CHECK(b.stats().batches == 3);
  run_one_batch();
  CHECK(sizes(backend.log->snapshot()) == std::vector<std::size_t>{8, 8, 8});
  CHECK(b.stats().flushes(pb::flush_reason::thermal) == 3);
  CHECK(thermal->reads() == 1);  // all within one sensor period: one read
  CHECK(loop.count({}) == 24);
}

TEST_CASE("Two batchers whose windows close 6 ms apart flush at the same grid tick", "[power][alignment]") {
  manual_loop loop;
  auto env = pw::make_environment(pw::no_thermal_sensor{}, pw::mains_power{}, test_sensors);
  recording_backend first_backend, second_backend;
  governed_batcher first(loop.context.get_executor(), first_backend, config_with(env));
  governed_batcher second(loop.context.get_executor(), second_backend, config_with(env));
  const pb::time_point t0 = pb::manual_clock::now();  // on the 16 ms grid

  loop.advance(3ms);
  first.async_submit(item{1}, {}, loop.recorder(1));  // due t0 + 13 ms: may leave until t0 + 113 ms
  loop.advance(6ms);
  second.async_submit(item{2}, {}, loop.recorder(2));  // due t0 + 19 ms: may leave until t0 + 119 ms
  loop.settle();
  pb::manual_clock::set(t0 + 112ms - 1us);
  loop.settle();
  CHECK(first_backend.log->batch_count() + second_backend.log->batch_count() == 0);
  loop.advance(1us);  // t0 + 112 ms: the last 16 ms tick before either batch must leave — both go
  CHECK(first_backend.log->batch_count() == 1);
  CHECK(second_backend.log->batch_count() == 1);
  CHECK(loop.results.size() == 2);
}
