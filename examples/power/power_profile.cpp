// A batcher under the balanced power profile, on this machine's own sensors, with a wake lock held while batches
// run; it serves a second of traffic (or as many seconds as the first argument says) and prints what it cost.
//
//   ./build/examples/power/power_profile [seconds]
#include <powerbatch/powerbatch.hpp>
#include <powerbatch/power/accounting.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/power/wake_locked.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace pb = powerbatch;
namespace pw = powerbatch::power;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (!(seconds > 0)) {
    std::fprintf(stderr, "usage: %s [seconds > 0]\n", argv[0]);
    return 2;
  }

  // Any backend; wake_locked keeps the machine awake while a batch runs (the platform's lock, a no-op where none).
  auto model = pw::wake_locked(pb::backend::from_function<float, float>([](float& x) { return 2 * x; }));
  using batcher_type = pb::Batcher<pb::queue::moodycamel, pw::balanced<pb::timeout::size_or_delay>,
                                   pb::priority::strict_levels<3>, decltype(model)>;
  batcher_type::config cfg;
  cfg.timeout.inner.max_batch_size = 64;  // the policy the profile wraps: size 64 or a 20 ms window ...
  cfg.timeout.inner.max_delay = 20ms;     // ... plus balanced's 100 ms tolerance, aligned to a 16 ms grid
  // cfg.timeout.env defaults to power::environment::platform(): this machine's thermal zones and power supply.

  boost::asio::io_context io;
  batcher_type batcher(io.get_executor(), model, cfg);
  auto work = boost::asio::make_work_guard(io);  // keeps io.run() going between requests
  std::thread dispatcher([&] { io.run(); });

  pw::energy_meter meter;  // RAPL if readable, the platform's energy model otherwise
  std::atomic<int> failed{0};
  const auto start = std::chrono::steady_clock::now();
  int sent = 0;
  for (auto next = start; next < start + std::chrono::duration<double>(seconds); next += 10ms, ++sent) {
    std::this_thread::sleep_until(next);  // 100 requests per second, one in ten of low priority
    const auto priority = sent % 10 == 0 ? pb::priority_levels::low : pb::priority_levels::normal;
    batcher.async_submit(float(sent), pb::request_options{}.with_priority(priority).with_timeout(1s),
                         [&](std::error_code ec, float) { failed += ec ? 1 : 0; });
  }
  batcher.shutdown(pb::shutdown_mode::drain);
  const pw::power_account account = meter.finish(batcher.stats());
  work.reset();
  dispatcher.join();

  const pw::environment_state env = pw::environment::platform()->state();
  std::printf("profile %s: %d requests, %d failed\n", std::string(batcher_type::timeout_policy::name).c_str(),
              sent, failed.load());
  std::printf("thermal level %s%s, %s%s\n", std::string(pw::to_string(env.now.level)).c_str(),
              env.celsius ? (" (" + std::to_string(int(*env.celsius)) + " C)").c_str() : "",
              env.now.on_battery ? "on battery" : "on mains power", env.now.low_power_mode ? ", low-power mode" : "");
  if (env.last_thermal_error || env.last_power_error)
    std::printf("sensor note: %s\n", env.last_error_detail.c_str());
  if (!meter.measures()) std::printf("RAPL not used: %s\n", meter.why_model().c_str());
  std::fputs(pw::describe(account).c_str(), stdout);
  return failed.load() == 0 ? 0 : 1;
}
