// power::logind_inhibitor — a Linux wake lock: systemd-logind's sleep inhibitor over D-Bus (sd-bus).
//
// acquire() calls org.freedesktop.login1.Manager.Inhibit("sleep", who, why, "block") on the system bus and keeps
// the file descriptor it returns; release() closes it, which is how logind learns the lock is gone (a crash
// releases it too). Nested acquires share one inhibitor. Non-root callers need polkit's permission
// (org.freedesktop.login1.inhibit-block-sleep; allowed for active local sessions by default); a refusal is a
// counted failure with logind's message.
//
// Built only where <systemd/sd-bus.h> exists (Debian: libsystemd-dev); a program that uses it links libsystemd
// (pkg-config libsystemd). platform_wake_lock picks it only when POWERBATCH_USE_LOGIND is defined to 1, so that
// merely having the header installed never adds a link dependency. Without a system bus (containers, CI),
// construction records a clear error and every acquire is a counted failure.
// Thread safety: acquire/release/accessors may be called from any thread (one mutex serialises the bus).
#pragma once

#include <powerbatch/power/platform/error.hpp>
#include <powerbatch/power/platform/wake_lock_state.hpp>

#if __has_include(<systemd/sd-bus.h>) && defined(__linux__)
#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#define POWERBATCH_HAS_LOGIND_INHIBITOR 1

POWERBATCH_BEGIN_NAMESPACE
namespace power {

class logind_inhibitor {
 public:
  struct params {
    std::string who = "powerbatch";
    std::string why = "running an inference batch";
    std::string what = "sleep";  // colon-separated: sleep, idle, shutdown, ...
    std::string mode = "block";
  };

  logind_inhibitor() : logind_inhibitor(params{}) {}
  explicit logind_inhibitor(params p) : params_(std::move(p)) {
    const int r = ::sd_bus_open_system(&bus_);
    if (r < 0) {
      bus_ = nullptr;
      init_error_ = std::error_code(-r, std::generic_category());
      init_detail_ = "cannot connect to the D-Bus system bus (sd_bus_open_system): " + init_error_.message() +
                     "; is dbus and systemd-logind running?";
    }
  }
  logind_inhibitor(const logind_inhibitor&) = delete;
  logind_inhibitor& operator=(const logind_inhibitor&) = delete;
  ~logind_inhibitor() {
    if (fd_ >= 0) ::close(fd_);
    if (bus_ != nullptr) ::sd_bus_flush_close_unref(bus_);
  }

  void acquire() noexcept { state_.acquire([this] { return take(); }); }
  void release() noexcept {
    state_.release([this] {
      ::close(fd_);
      fd_ = -1;
    });
  }

  // The connection error, if the system bus could not be reached; empty otherwise.
  std::error_code init_error() const noexcept { return init_error_; }
  const std::string& init_error_detail() const noexcept { return init_detail_; }

  bool held() const { return state_.held(); }
  std::uint64_t failures() const { return state_.failures(); }
  std::error_code last_error() const { return state_.last_error(); }
  std::string last_error_detail() const { return state_.last_error_detail(); }

 private:
  bool take() noexcept {
    if (bus_ == nullptr) {
      state_.fail(init_error_, init_detail_);
      return false;
    }
    sd_bus_error error{};  // SD_BUS_ERROR_NULL, without its C compound literal
    sd_bus_message* reply = nullptr;
    int r = ::sd_bus_call_method(bus_, "org.freedesktop.login1", "/org/freedesktop/login1",
                                 "org.freedesktop.login1.Manager", "Inhibit", &error, &reply, "ssss",
                                 params_.what.c_str(), params_.who.c_str(), params_.why.c_str(),
                                 params_.mode.c_str());
    if (r < 0) {
      state_.fail(std::error_code(-r, std::generic_category()),
                  std::string("org.freedesktop.login1.Manager.Inhibit failed: ") +
                      (error.message != nullptr ? error.message : std::strerror(-r)));
      ::sd_bus_error_free(&error);
      return false;
    }
    int fd = -1;
    r = ::sd_bus_message_read(reply, "h", &fd);
    // The descriptor belongs to the message: duplicate it before the message goes.
    if (r >= 0) fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    const int dup_errno = errno;
    ::sd_bus_message_unref(reply);
    ::sd_bus_error_free(&error);
    if (r < 0) {
      state_.fail(std::error_code(-r, std::generic_category()),
                  std::string("reading the inhibitor descriptor from logind's reply failed: ") + std::strerror(-r));
      return false;
    }
    if (fd_ < 0) {
      state_.fail(std::error_code(dup_errno, std::generic_category()),
                  std::string("duplicating logind's inhibitor descriptor failed: ") + std::strerror(dup_errno));
      return false;
    }
    return true;
  }

  params params_;
  sd_bus* bus_ = nullptr;
  int fd_ = -1;
  std::error_code init_error_;
  std::string init_detail_;
  detail::wake_lock_state state_;
};

}  // namespace power
POWERBATCH_END_NAMESPACE

#endif  // <systemd/sd-bus.h>
