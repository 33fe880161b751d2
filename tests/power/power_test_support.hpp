// Fixtures for the power tests: sensors a test steps by hand, and lane views for driving policies directly.
#pragma once

#include <powerbatch/concepts/timeout_policy.hpp>
#include <powerbatch/power/environment.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace pbpower {

namespace pb = powerbatch;
namespace pw = powerbatch::power;
using namespace std::chrono_literals;

// A thermal sensor whose level the test sets; counts its reads.
struct stepped_thermal {
  pw::thermal_reading reading;
  std::size_t reads = 0;
  pw::thermal_reading read() {
    ++reads;
    return reading;
  }
  void set(pw::thermal_level level) { reading.level = level; }
};

// A power source the test plugs in and out; counts its reads.
struct switchable_power {
  pw::power_reading reading;
  std::size_t reads = 0;
  pw::power_reading read() {
    ++reads;
    return reading;
  }
  void unplug() { reading.on_battery = true; }
  void plug_in() { reading.on_battery = false; }
};

// Sensors the test keeps, an environment over them, and a fixed start instant.
struct rig {
  std::shared_ptr<stepped_thermal> thermal = std::make_shared<stepped_thermal>();
  std::shared_ptr<switchable_power> power = std::make_shared<switchable_power>();
  std::shared_ptr<pw::environment> env;

  explicit rig(pw::environment_options options = {}) : env(pw::make_environment(thermal, power, options)) {}
};

// An instant on the 1 ms grid, far from the epoch, so grid arithmetic in tests is easy to read.
inline pb::time_point t0() { return pb::time_point(std::chrono::hours(1)); }

inline pb::lane_view view(std::size_t pending, pb::time_point oldest, pb::time_point now,
                          std::size_t deferrable = 0) {
  pb::lane_view v;
  v.pending = pending;
  v.oldest_arrival = oldest;
  v.now = now;
  v.pending_deferrable = deferrable;
  return v;
}

}  // namespace pbpower
