// power::windows_power_request — a Windows wake lock: a power request (Windows 7 and later, kernel32).
//
// The first acquire creates the request (PowerCreateRequest with a simple reason string, shown by
// `powercfg /requests`) and sets PowerRequestSystemRequired; the last release clears it. The handle is kept for
// the next batch and closed by the destructor. Failures (e.g. ERROR_CALL_NOT_IMPLEMENTED under Wine 8, which
// lacks PowerCreateRequest) are counted and kept with the call's name; a failed creation is retried on the next
// acquire. Only in Windows builds. Thread safety: acquire/release/accessors from any thread.
#pragma once

#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/wake_lock_state.hpp>

#if defined(_WIN32)
#include <windows.h>

#include <string>
#include <system_error>
#include <utility>

#define POWERBATCH_HAS_WINDOWS_POWER_REQUEST 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class windows_power_request {
 public:
  windows_power_request() : windows_power_request(L"powerbatch: running an inference batch") {}
  explicit windows_power_request(std::wstring reason) : reason_(std::move(reason)) {}
  windows_power_request(const windows_power_request&) = delete;
  windows_power_request& operator=(const windows_power_request&) = delete;
  ~windows_power_request() {
    if (state_.held()) ::PowerClearRequest(request_, PowerRequestSystemRequired);
    if (request_ != INVALID_HANDLE_VALUE) ::CloseHandle(request_);
  }

  void acquire() noexcept { state_.acquire([this] { return take(); }); }
  void release() noexcept {
    state_.release([this] {
      if (!::PowerClearRequest(request_, PowerRequestSystemRequired)) fail_last("PowerClearRequest");
    });
  }

  bool held() const { return state_.held(); }
  std::uint64_t failures() const { return state_.failures(); }
  std::error_code last_error() const { return state_.last_error(); }
  std::string last_error_detail() const { return state_.last_error_detail(); }

 private:
  bool take() noexcept {
    if (request_ == INVALID_HANDLE_VALUE) {
      REASON_CONTEXT context{};
      context.Version = POWER_REQUEST_CONTEXT_VERSION;
      context.Flags = POWER_REQUEST_CONTEXT_SIMPLE_STRING;
      context.Reason.SimpleReasonString = reason_.data();
      request_ = ::PowerCreateRequest(&context);
      if (request_ == INVALID_HANDLE_VALUE) {
        fail_last("PowerCreateRequest");
        return false;
      }
    }
    if (!::PowerSetRequest(request_, PowerRequestSystemRequired)) {
      fail_last("PowerSetRequest(PowerRequestSystemRequired)");
      return false;
    }
    return true;
  }

  void fail_last(const char* call) noexcept {
    const std::error_code error(static_cast<int>(::GetLastError()), std::system_category());
    state_.fail(error, std::string(call) + " failed: " + error.message() + " (error " +
                           std::to_string(error.value()) + ")");
  }

  std::wstring reason_;
  HANDLE request_ = INVALID_HANDLE_VALUE;
  detail::wake_lock_state state_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // _WIN32
