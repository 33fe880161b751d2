// power::environment — the device's thermal level and power source as the power profiles see them: one thermal
// sensor and one power-source sensor behind a type-erased handle, read at most once per sensor period, with
// hysteresis on the way down so reactions do not flap around a trip point.
//
// Nothing here runs by itself. A profile calls poll(now) from its decide(), which the dispatcher runs only when it
// is awake anyway; the sensors are read there if the period has elapsed, never from a timer of the environment's
// own (that would be a wake-up) and never on the submit path. One environment can serve many batchers (share the
// shared_ptr): they then read the sensors once per period between them.
//
// A thermal reading with an error says nothing about the temperature: the held level stays (and is reported).
//
// Hysteresis: a hotter reading takes effect at once; a cooler one only after the sensor has reported levels below
// the held one for `cool_down`, and then the held level drops to the hottest level seen during that time. It is
// measured in time, not degrees, because Android and Apple report levels without temperatures.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/power/power_source.hpp>
#include <powerbatch/power/thermal.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

struct environment_options {
  // Sensors are read at most this often. 1 s: sysfs thermal zones update every 1-2 s (thermal_zone polling_delay
  // is typically 1000 ms or more), Android's thermal status and battery broadcasts change no faster.
  duration sensor_period = std::chrono::seconds(1);
  // A cooler level must persist this long before reactions relax: longer than a few sensor periods and than one
  // burst of batches, so one cool reading between two hot ones does not switch the batcher back and forth.
  duration cool_down = std::chrono::seconds(10);
};

// What the profiles decide on: a few bits, read without a lock between sensor polls.
struct conditions {
  thermal_level level = thermal_level::nominal;  // after hysteresis
  bool on_battery = false;
  bool low_power_mode = false;

  friend constexpr bool operator==(const conditions&, const conditions&) = default;
};

// Everything the environment knows, for reports and tests.
struct environment_state {
  conditions now;                                    // what reactions use
  thermal_level reported = thermal_level::nominal;   // the thermal sensor's last good reading
  std::optional<double> celsius;
  std::optional<double> battery_percent;
  std::uint64_t polls = 0;                           // sensor reads so far (each reads both sensors)
  std::uint64_t thermal_errors = 0, power_errors = 0;
  std::error_code last_thermal_error, last_power_error;
  std::string last_error_detail;                     // the file, call or value at fault, from the sensor
};

// A thermal sensor that always reads nominal, for profiles or platforms without one.
struct no_thermal_sensor {
  thermal_reading read() const { return thermal_reading{}; }
};

// A power source that is always mains power, for servers and tests that do not care.
struct mains_power {
  power_reading read() const { return power_reading{}; }
};

class environment {
 public:
  // Sensors are taken by value (moved into shared storage) or as a shared_ptr the caller keeps, e.g. a fake it
  // steps during a test.
  template <class Thermal, class Power>
  environment(Thermal thermal, Power power, environment_options options = {})
      : options_(options), thermal_(erase_thermal(std::move(thermal))), power_(erase_power(std::move(power))) {}

  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;

  // The process-wide environment over this platform's sensors, created on first use and shared by every profile
  // that is not given one.
  static std::shared_ptr<environment> platform() {
    static const std::shared_ptr<environment> shared =
        std::make_shared<environment>(platform_thermal_sensor(), platform_power_source());
    return shared;
  }

  // The conditions at `now`, reading the sensors first if a sensor period has passed since the last read (or if
  // time went backwards, as when a manual clock is reset). Thread-safe; between reads it takes no lock.
  conditions poll(time_point now) {
    const auto ticks = now.time_since_epoch().count();
    if (ticks >= last_read_.load(std::memory_order_acquire) && ticks < next_read_.load(std::memory_order_acquire))
      return unpack(packed_.load(std::memory_order_acquire));
    std::unique_lock lock(mutex_, std::try_to_lock);
    // Another dispatcher is reading the sensors right now: use what we had, it is at most one period old.
    if (!lock.owns_lock()) return unpack(packed_.load(std::memory_order_acquire));
    if (ticks >= last_read_.load(std::memory_order_relaxed) && ticks < next_read_.load(std::memory_order_relaxed))
      return state_.now;
    read_sensors(now);
    return state_.now;
  }

  // What the last read found, without reading.
  conditions current() const noexcept { return unpack(packed_.load(std::memory_order_acquire)); }
  environment_state state() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  const environment_options& options() const noexcept { return options_; }

 private:
  template <class T>
  struct is_shared_ptr : std::false_type {};
  template <class T>
  struct is_shared_ptr<std::shared_ptr<T>> : std::true_type {};

  template <class Sensor>
  static auto share(Sensor sensor) {
    if constexpr (is_shared_ptr<Sensor>::value)
      return sensor;
    else
      return std::make_shared<Sensor>(std::move(sensor));
  }

  template <class Thermal>
  static std::function<thermal_reading()> erase_thermal(Thermal thermal) {
    auto shared = share(std::move(thermal));
    static_assert(thermal_sensor<typename decltype(shared)::element_type>,
                  "power::environment: the thermal sensor must provide read() -> power::thermal_reading");
    POWERBATCH_ASSERT(shared != nullptr, "power::environment: the thermal sensor pointer is null");
    return [shared] { return shared->read(); };
  }

  template <class Power>
  static std::function<power_reading()> erase_power(Power power) {
    auto shared = share(std::move(power));
    static_assert(power_source_sensor<typename decltype(shared)::element_type>,
                  "power::environment: the power source must provide read() -> power::power_reading");
    POWERBATCH_ASSERT(shared != nullptr, "power::environment: the power source pointer is null");
    return [shared] { return shared->read(); };
  }

  void read_sensors(time_point now) {
    ++state_.polls;
    const thermal_reading t = thermal_();
    if (t.error) {
      // Keep the held level: an unreadable zone says nothing about the temperature.
      ++state_.thermal_errors;
      state_.last_thermal_error = t.error;
      state_.last_error_detail = t.detail;
    } else {
      state_.reported = t.level;
      state_.celsius = t.celsius;
      apply_hysteresis(t.level, now);
    }
    // A power reading with an error still holds what could be read, and defaults to mains power otherwise (the
    // state in which the profiles change nothing), so it is used either way.
    const power_reading p = power_();
    if (p.error) {
      ++state_.power_errors;
      state_.last_power_error = p.error;
      state_.last_error_detail = p.detail;
    }
    state_.now.on_battery = p.on_battery;
    state_.now.low_power_mode = p.low_power_mode;
    state_.battery_percent = p.battery_percent;
    packed_.store(pack(state_.now), std::memory_order_release);
    const auto ticks = now.time_since_epoch().count();
    last_read_.store(ticks, std::memory_order_release);
    const auto period = options_.sensor_period.count() > 0 ? options_.sensor_period.count() : 1;
    next_read_.store(ticks > max_ticks - period ? max_ticks : ticks + period, std::memory_order_release);
  }

  void apply_hysteresis(thermal_level reported, time_point now) {
    if (reported >= state_.now.level) {
      state_.now.level = reported;
      cooling_since_.reset();
      return;
    }
    if (!cooling_since_ || now < *cooling_since_) {
      cooling_since_ = now;
      hottest_while_cooling_ = reported;
      return;
    }
    if (reported > hottest_while_cooling_) hottest_while_cooling_ = reported;
    if (now - *cooling_since_ >= options_.cool_down) {
      state_.now.level = hottest_while_cooling_;
      cooling_since_.reset();
    }
  }

  static std::uint32_t pack(const conditions& c) noexcept {
    return static_cast<std::uint32_t>(c.level) | (c.on_battery ? 0x100u : 0u) | (c.low_power_mode ? 0x200u : 0u);
  }
  static conditions unpack(std::uint32_t bits) noexcept {
    return conditions{static_cast<thermal_level>(bits & 0xffu), (bits & 0x100u) != 0, (bits & 0x200u) != 0};
  }

  using rep = duration::rep;
  static constexpr rep max_ticks = std::numeric_limits<rep>::max();

  const environment_options options_;
  std::function<thermal_reading()> thermal_;
  std::function<power_reading()> power_;

  mutable std::mutex mutex_;  // guards the sensors and state_; the atomics below are its lock-free summary
  environment_state state_;
  std::optional<time_point> cooling_since_;
  thermal_level hottest_while_cooling_ = thermal_level::nominal;

  std::atomic<std::uint32_t> packed_{0};
  std::atomic<rep> last_read_{max_ticks};  // no read yet: every time is "before the last read"
  std::atomic<rep> next_read_{0};
};

// Shorthand for the common case: an environment over two sensors, shared by the batchers it is given to.
template <class Thermal, class Power>
std::shared_ptr<environment> make_environment(Thermal thermal, Power power, environment_options options = {}) {
  return std::make_shared<environment>(std::move(thermal), std::move(power), options);
}

}  // namespace power
POWERBATCH_END_NAMESPACE
