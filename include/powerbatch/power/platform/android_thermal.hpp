// power::android_thermal_sensor — Android's thermal API (AThermal_*, <android/thermal.h>), resolved at run time.
//
// The functions are looked up with dlopen/dlsym in libandroid.so, so one binary runs on every Android version:
// AThermal_getCurrentThermalStatus needs API level 30 and AThermal_getThermalHeadroom API level 31; where they are
// missing the reading carries platform_errc::api_unavailable (or just no headroom). The NDK headers are not needed.
// The class builds on any system with <dlfcn.h>; the library name is a parameter so that tests can load a fake.
//
// Mapping of AThermalStatus: NONE -> nominal, LIGHT -> light, MODERATE -> moderate, SEVERE -> severe,
// CRITICAL / EMERGENCY / SHUTDOWN -> critical, ERROR (-1) -> an error reading.
// Headroom is polled at most once per second: Android documents that calling it more often may return NaN,
// and it costs a binder call. Between polls the last value is reported again. Thread safety: read() locks.
#pragma once

#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/thermal_reading.hpp>

#if __has_include(<dlfcn.h>)
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#define POWERBATCH_HAS_ANDROID_THERMAL_SENSOR 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class android_thermal_sensor {
 public:
  explicit android_thermal_sensor(const char* library = "libandroid.so") : state_(std::make_unique<state>()) {
    state_->handle = ::dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (state_->handle == nullptr) {
      fail(platform_errc::api_unavailable, std::string("dlopen(\"") + library + "\"): " + dlerror_text());
      return;
    }
    state_->acquire = reinterpret_cast<acquire_fn>(::dlsym(state_->handle, "AThermal_acquireManager"));
    state_->release = reinterpret_cast<release_fn>(::dlsym(state_->handle, "AThermal_releaseManager"));
    state_->status = reinterpret_cast<status_fn>(::dlsym(state_->handle, "AThermal_getCurrentThermalStatus"));
    state_->headroom = reinterpret_cast<headroom_fn>(::dlsym(state_->handle, "AThermal_getThermalHeadroom"));
    if (state_->acquire == nullptr || state_->release == nullptr || state_->status == nullptr) {
      fail(platform_errc::api_unavailable,
           std::string(library) + " lacks AThermal_acquireManager / AThermal_getCurrentThermalStatus "
                                  "(Android API level 30 or later is needed)");
      return;
    }
    state_->manager = state_->acquire();
    if (state_->manager == nullptr)
      fail(platform_errc::api_unavailable, "AThermal_acquireManager() returned null (thermal service missing?)");
  }

  android_thermal_sensor(android_thermal_sensor&&) noexcept = default;
  android_thermal_sensor& operator=(android_thermal_sensor&&) noexcept = default;

  // The error met while loading, if any; read() reports it too.
  std::error_code init_error() const noexcept { return state_ ? state_->init_error : std::error_code(); }
  bool has_headroom() const noexcept { return state_ && state_->headroom != nullptr; }

  thermal_reading read() {
    thermal_reading reading;
    std::lock_guard lock(state_->mutex);
    if (state_->init_error) {
      reading.error = state_->init_error;
      reading.detail = state_->init_detail;
      return reading;
    }
    const int status = state_->status(state_->manager);
    if (status < 0) {
      reading.error = make_error_code(platform_errc::api_unavailable);
      reading.detail = "AThermal_getCurrentThermalStatus returned " + std::to_string(status) + " (ATHERMAL_STATUS_ERROR)";
      return reading;
    }
    reading.level = status >= 4 ? thermal_level::critical : static_cast<thermal_level>(status);

    if (state_->headroom != nullptr) {
      const auto now = std::chrono::steady_clock::now();
      if (!state_->last_poll || now - *state_->last_poll >= std::chrono::seconds(1)) {
        state_->last_poll = now;
        const float h = state_->headroom(state_->manager, 0);
        if (!std::isnan(h)) state_->last_headroom = h;  // NaN: no new value; keep the previous one
      }
      reading.headroom = state_->last_headroom;
    }
    return reading;
  }

 private:
  struct manager_tag;  // AThermalManager, opaque
  using acquire_fn = manager_tag* (*)();
  using release_fn = void (*)(manager_tag*);
  using status_fn = int (*)(manager_tag*);
  using headroom_fn = float (*)(manager_tag*, int);

  struct state {
    void* handle = nullptr;
    manager_tag* manager = nullptr;
    acquire_fn acquire = nullptr;
    release_fn release = nullptr;
    status_fn status = nullptr;
    headroom_fn headroom = nullptr;
    std::error_code init_error;
    std::string init_detail;
    std::mutex mutex;
    std::optional<std::chrono::steady_clock::time_point> last_poll;
    std::optional<double> last_headroom;

    ~state() {
      if (manager != nullptr && release != nullptr) release(manager);
      if (handle != nullptr) ::dlclose(handle);
    }
  };

  static std::string dlerror_text() {
    const char* text = ::dlerror();
    return text != nullptr ? text : "unknown dlopen error";
  }

  void fail(platform_errc e, std::string detail) {
    state_->init_error = make_error_code(e);
    state_->init_detail = std::move(detail);
  }

  std::unique_ptr<state> state_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // __has_include(<dlfcn.h>)
