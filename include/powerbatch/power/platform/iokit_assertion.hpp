// power::iokit_assertion — a macOS wake lock: an IOKit power assertion.
//
// The first acquire creates kIOPMAssertionTypePreventUserIdleSystemSleep (idle sleep is what a batch must not
// meet; unlike PreventSystemSleep it also works on battery) with IOPMAssertionCreateWithName, shown by
// `pmset -g assertions`; the last release calls IOPMAssertionRelease. Failures keep the IOReturn value.
// Link with -framework IOKit -framework CoreFoundation. macOS only (IOKit is not public on iOS).
// NOT compiled or run by this project's CI (no Apple toolchain there). Thread safety: any thread.
#pragma once

#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/wake_lock_state.hpp>

#if defined(__APPLE__)
#include <TargetConditionals.h>
#endif
#if defined(__APPLE__) && TARGET_OS_OSX
#include <CoreFoundation/CoreFoundation.h>
#include <IOKit/pwr_mgt/IOPMLib.h>

#include <cstdio>
#include <string>
#include <utility>

#define POWERBATCH_HAS_IOKIT_ASSERTION 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class iokit_assertion {
 public:
  iokit_assertion() : iokit_assertion("powerbatch: running an inference batch") {}
  explicit iokit_assertion(std::string reason) : reason_(std::move(reason)) {}
  iokit_assertion(const iokit_assertion&) = delete;
  iokit_assertion& operator=(const iokit_assertion&) = delete;
  ~iokit_assertion() {
    if (state_.held()) ::IOPMAssertionRelease(assertion_);
  }

  void acquire() noexcept { state_.acquire([this] { return take(); }); }
  void release() noexcept {
    state_.release([this] {
      const IOReturn r = ::IOPMAssertionRelease(assertion_);
      if (r != kIOReturnSuccess) fail("IOPMAssertionRelease", r);
    });
  }

  bool held() const { return state_.held(); }
  std::uint64_t failures() const { return state_.failures(); }
  std::error_code last_error() const { return state_.last_error(); }
  std::string last_error_detail() const { return state_.last_error_detail(); }

 private:
  bool take() noexcept {
    CFStringRef name = ::CFStringCreateWithCString(nullptr, reason_.c_str(), kCFStringEncodingUTF8);
    const IOReturn r = ::IOPMAssertionCreateWithName(kIOPMAssertionTypePreventUserIdleSystemSleep,
                                                     kIOPMAssertionLevelOn, name, &assertion_);
    if (name != nullptr) ::CFRelease(name);
    if (r != kIOReturnSuccess) {
      fail("IOPMAssertionCreateWithName", r);
      return false;
    }
    return true;
  }

  void fail(const char* call, IOReturn r) noexcept {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", static_cast<unsigned>(r));
    state_.fail(make_error_code(platform_errc::api_unavailable), std::string(call) + " failed: IOReturn " + hex);
  }

  std::string reason_;
  IOPMAssertionID assertion_ = kIOPMNullAssertionID;
  detail::wake_lock_state state_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // __APPLE__ && TARGET_OS_OSX
