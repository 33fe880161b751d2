// The wake-lock backend decorator (held exactly while a batch runs, released on every path) and the accounting.
#include "test_support.hpp"

#include <powerbatch/power/accounting.hpp>
#include <powerbatch/power/wake_locked.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

using namespace pbtest;
namespace pw = powerbatch::power;

namespace {

// Checks, from inside run(), that the lock is held while the batch runs.
struct lock_checking_backend {
  using input_type = item;
  using output_type = int;
  std::shared_ptr<pw::counting_wake_lock> lock;
  std::shared_ptr<std::vector<std::int64_t>> held_during_run = std::make_shared<std::vector<std::int64_t>>();
  void run(std::span<item> in, std::span<int> out) {
    held_during_run->push_back(lock->currently_held());
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i].id < 0) throw std::runtime_error("negative id");
      out[i] = in[i].id;
    }
  }
  std::size_t max_batch_size() const { return 4; }
};

using locked_backend = pw::wake_locked<lock_checking_backend, pw::counting_wake_lock>;
using locked_batcher =
    pb::Batcher<pb::queue::mutex_deque, pb::timeout::size_or_delay, pb::priority::fifo, locked_backend, pb::manual_clock>;

}  // namespace

TEST_CASE("wake_locked holds the lock while a batch runs and releases it on every path", "[power][wake_lock]") {
  auto lock = std::make_shared<pw::counting_wake_lock>();
  lock_checking_backend inner{lock};
  locked_backend backend(inner, lock);
  STATIC_REQUIRE(pb::batch_backend<locked_backend>);
  CHECK(backend.max_batch_size() == 4);

  manual_loop loop;
  locked_batcher::config cfg;
  cfg.timeout.max_batch_size = 2;
  locked_batcher b(loop.context.get_executor(), backend, cfg);
  CHECK(lock->currently_held() == 0);
  b.async_submit(item{1}, {}, loop.recorder(1));
  b.async_submit(item{2}, {}, loop.recorder(2));
  b.async_submit(item{-3}, {}, loop.recorder(-3));  // this batch throws
  b.async_submit(item{4}, {}, loop.recorder(4));
  loop.settle();
  b.async_submit(item{5}, {}, loop.recorder(5));
  b.async_shutdown(pb::shutdown_mode::drain, [] {});
  loop.settle();

  CHECK(*inner.held_during_run == std::vector<std::int64_t>{1, 1, 1});
  CHECK(lock->acquisitions() == 3);
  CHECK(lock->releases() == 3);
  CHECK(lock->currently_held() == 0);
  CHECK(loop.count(pb::errc::backend_failed) == 2);
  CHECK(loop.count({}) == 3);
}

TEST_CASE("wake_locked releases the lock when the backend throws, called directly", "[power][wake_lock]") {
  auto lock = std::make_shared<pw::counting_wake_lock>();
  locked_backend backend(lock_checking_backend{lock}, lock);
  std::vector<item> in{item{-1}};
  std::vector<int> out(1);
  CHECK_THROWS_AS(backend.run(in, out), std::runtime_error);
  CHECK(lock->currently_held() == 0);
  CHECK(lock->releases() == 1);
  // The platform lock by default (a no-op where the platform has none to take without help).
  pw::wake_locked plain{recording_backend{}};
  STATIC_REQUIRE(std::is_same_v<decltype(plain)::lock_type, pw::platform_wake_lock>);
}

TEST_CASE("The account turns stats into wake-ups per request and model joules, and says which method",
          "[power][accounting]") {
  pb::batcher_stats s;
  s.completed = 990;
  s.backend_failed = 10;
  s.batches = 100;
  s.thread_wakeups = 200;
  s.dispatcher_wakeups = 230;
  s.timers_armed = 100;
  s.busy_time = std::chrono::milliseconds(50);
  const pw::energy_model model{1e-3, 10.0, 2.0, "test model"};
  const pw::power_account a = pw::account(s, 10s, model);
  CHECK(a.requests == 1000);
  CHECK(a.wakeups_per_request() == Approx(0.2));
  CHECK(a.wake_cycles_saved == 800);
  CHECK(a.mean_batch_size() == Approx(10));
  // 200 wake-ups x 1 mJ + 0.05 s x 10 W = 0.7 J; idle power is not charged to requests.
  CHECK(a.energy.joules == Approx(0.7));
  CHECK(a.energy.source == pw::energy_estimate::method::model);
  CHECK(a.joules_per_request() == Approx(0.7e-3));
  CHECK(pw::account(s, 10s, model, true).energy.joules == Approx(0.7 + 9.95 * 2.0));
  const std::string text = pw::describe(a);
  CHECK(text.find("estimated (model): test model") != std::string::npos);
  CHECK(text.find("0.200 per request") != std::string::npos);

  const pw::power_account measured = pw::account(s, 10s, 5.0);
  CHECK(measured.energy.source == pw::energy_estimate::method::rapl);
  CHECK(measured.joules_per_request() == Approx(5e-3));
  CHECK(pw::describe(measured).find("measured (RAPL)") != std::string::npos);

  pb::batcher_stats later = s;
  later.completed += 100;
  later.thread_wakeups += 10;
  later.busy_time += std::chrono::milliseconds(5);
  const pb::batcher_stats d = pw::stats_between(s, later);
  CHECK(d.completed == 100);
  CHECK(d.thread_wakeups == 10);
  CHECK(d.busy_time == std::chrono::milliseconds(5));

  // The dispatcher's busy waits (config timer_lead) are charged like backend work: + 0.02 s x 10 W.
  pb::batcher_stats spinning = s;
  spinning.busy_waits = 4;
  spinning.busy_wait_time = std::chrono::milliseconds(20);
  const pw::power_account with_waits = pw::account(spinning, 10s, model, true);
  CHECK(with_waits.busy_waiting == std::chrono::milliseconds(20));
  CHECK(with_waits.energy.joules == Approx(0.9 + 9.93 * 2.0));
  pb::batcher_stats spun_more = spinning;
  spun_more.busy_waits += 1;
  spun_more.busy_wait_time += std::chrono::milliseconds(3);
  const pb::batcher_stats spun = pw::stats_between(spinning, spun_more);
  CHECK(spun.busy_waits == 1);
  CHECK(spun.busy_wait_time == std::chrono::milliseconds(3));
}

TEST_CASE("energy_meter measures with RAPL counters (wraparound included) and falls back to the model",
          "[power][accounting]") {
  std::random_device seed;
  const auto root = std::filesystem::temp_directory_path() / ("powerbatch_rapl_" + std::to_string(seed()));
  const auto write = [&](const std::string& file, const std::string& text) {
    std::filesystem::create_directories((root / file).parent_path());
    std::ofstream(root / file) << text << '\n';
  };
  write("intel-rapl:0/name", "package-0");
  write("intel-rapl:0/max_energy_range_uj", "2000000");
  write("intel-rapl:0/energy_uj", "1000000");
  pb::batcher_stats s;
  s.completed = 10;
  s.thread_wakeups = 2;
  {
    pw::energy_meter meter({.powercap_root = root});
    REQUIRE(meter.measures());
    write("intel-rapl:0/energy_uj", "500000");  // wrapped: 1.0 J to the top of the range, then 0.5 J
    const pw::power_account a = meter.finish(s);
    CHECK(a.energy.source == pw::energy_estimate::method::rapl);
    CHECK(a.energy.joules == Approx(1.5));
    CHECK(a.joules_per_request() == Approx(0.15));
  }
  std::filesystem::remove_all(root);
  // No powercap tree: the model, and the reason.
  pw::energy_meter meter({.powercap_root = root});
  CHECK_FALSE(meter.measures());
  CHECK(meter.why_model().find(root.string()) != std::string::npos);
  const pw::power_account a = meter.finish(s);
  CHECK(a.energy.source == pw::energy_estimate::method::model);
  CHECK(a.energy.joules > 0);
}
