// A stand-in for Android's libandroid.so thermal entry points (API 30/31 signatures), so that
// power::android_thermal_sensor's dlopen/dlsym path runs on Linux. The fake_* functions let the test steer it.
#include <atomic>

struct AThermalManager {
  int unused;
};

namespace {
AThermalManager manager{0};
std::atomic<int> status{0};
std::atomic<float> headroom{0.0f};
std::atomic<int> headroom_calls{0};
std::atomic<int> managers_held{0};
}  // namespace

extern "C" {
__attribute__((visibility("default"))) AThermalManager* AThermal_acquireManager() {
  ++managers_held;
  return &manager;
}
__attribute__((visibility("default"))) void AThermal_releaseManager(AThermalManager*) { --managers_held; }
__attribute__((visibility("default"))) int AThermal_getCurrentThermalStatus(AThermalManager*) { return status; }
__attribute__((visibility("default"))) float AThermal_getThermalHeadroom(AThermalManager*, int) {
  ++headroom_calls;
  return headroom;
}

__attribute__((visibility("default"))) void fake_set_status(int s) { status = s; }
__attribute__((visibility("default"))) void fake_set_headroom(float h) { headroom = h; }
__attribute__((visibility("default"))) int fake_headroom_calls() { return headroom_calls; }
__attribute__((visibility("default"))) int fake_managers_held() { return managers_held; }
}
