// power::apple_power_source — macOS power sources (IOKit IOPSCopyPowerSourcesInfo) and Low Power Mode.
//
// on_battery: IOPSGetProvidingPowerSourceType is "Battery Power". battery_percent: current / max capacity of the
// internal batteries. low_power_mode: [[NSProcessInfo processInfo] isLowPowerModeEnabled] (macOS 12, iOS 9),
// called through the Objective-C runtime's C API so that this stays a C++ header; it reads false when Foundation
// is not linked or the OS is older. On iOS, IOPowerSources is not public: only low_power_mode is read there.
// Link with -framework IOKit -framework CoreFoundation -framework Foundation.
// Only in Apple builds; NOT compiled or run by this project's CI (no Apple toolchain there).
#pragma once

#include <powerbatch/power/platform/power_reading.hpp>

#if defined(__APPLE__)
#include <TargetConditionals.h>
#include <objc/message.h>
#include <objc/runtime.h>
#if TARGET_OS_OSX
#include <CoreFoundation/CoreFoundation.h>
#include <IOKit/ps/IOPSKeys.h>
#include <IOKit/ps/IOPowerSources.h>
#endif

#include <string>

#define POWERBATCH_HAS_APPLE_POWER_SOURCE 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class apple_power_source {
 public:
  power_reading read() const {
    power_reading reading;
#if TARGET_OS_OSX
    CFTypeRef info = ::IOPSCopyPowerSourcesInfo();
    if (info == nullptr) {
      reading.error = std::make_error_code(std::errc::io_error);
      reading.detail = "IOPSCopyPowerSourcesInfo returned null";
    } else {
      CFStringRef providing = ::IOPSGetProvidingPowerSourceType(info);
      reading.on_battery =
          providing != nullptr && ::CFStringCompare(providing, CFSTR(kIOPMBatteryPowerKey), 0) == kCFCompareEqualTo;
      CFArrayRef list = ::IOPSCopyPowerSourcesList(info);
      if (list != nullptr) {
        long current_sum = 0, max_sum = 0;
        for (CFIndex i = 0, n = ::CFArrayGetCount(list); i < n; ++i) {
          CFDictionaryRef source = ::IOPSGetPowerSourceDescription(info, ::CFArrayGetValueAtIndex(list, i));
          if (source == nullptr) continue;
          int current = 0, max = 0;
          auto number = [&](const char* key, int& out) {
            CFStringRef k = ::CFStringCreateWithCString(nullptr, key, kCFStringEncodingUTF8);
            const auto value = static_cast<CFNumberRef>(::CFDictionaryGetValue(source, k));
            ::CFRelease(k);
            return value != nullptr && ::CFNumberGetValue(value, kCFNumberIntType, &out);
          };
          if (number(kIOPSCurrentCapacityKey, current) && number(kIOPSMaxCapacityKey, max) && max > 0) {
            current_sum += current;
            max_sum += max;
          }
        }
        if (max_sum > 0) reading.battery_percent = 100.0 * static_cast<double>(current_sum) / max_sum;
        ::CFRelease(list);
      }
      ::CFRelease(info);
    }
#endif
    reading.low_power_mode = low_power_mode_enabled();
    return reading;
  }

 private:
  static bool low_power_mode_enabled() {
    Class process_info_class = ::objc_getClass("NSProcessInfo");
    if (process_info_class == nullptr) return false;  // Foundation not loaded
    using object_getter = id (*)(id, SEL);
    using bool_getter = BOOL (*)(id, SEL);
    id info = reinterpret_cast<object_getter>(&::objc_msgSend)(reinterpret_cast<id>(process_info_class),
                                                                ::sel_registerName("processInfo"));
    SEL query = ::sel_registerName("isLowPowerModeEnabled");
    if (info == nullptr || !::class_respondsToSelector(::object_getClass(info), query)) return false;
    return reinterpret_cast<bool_getter>(&::objc_msgSend)(info, query);
  }
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // __APPLE__
