// lab::progress_reporter — a progress bar when the output is a terminal, plain lines otherwise (logs, CI).
#pragma once

#include <powerbatch/config.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

inline bool is_terminal(std::FILE* stream) noexcept {
#if defined(__unix__) || defined(__APPLE__)
  return ::isatty(::fileno(stream)) != 0;
#else
  (void)stream;
  return false;
#endif
}

class progress_reporter {
 public:
  // `enabled` false prints nothing; `terminal` chooses the bar (redrawn in place) over lines at each quarter.
  progress_reporter(std::FILE* stream, bool enabled, bool terminal) noexcept
      : stream_(stream), enabled_(enabled), terminal_(terminal) {}

  void begin(const std::string& label) {
    label_ = label;
    last_step_ = -1;
    update(0.0);
  }
  void update(double fraction) {
    if (!enabled_) return;
    fraction = std::clamp(fraction, 0.0, 1.0);
    if (terminal_) {
      const int width = 30, filled = static_cast<int>(fraction * width);
      const int percent = static_cast<int>(fraction * 100);
      if (percent == last_step_) return;
      last_step_ = percent;
      std::fprintf(stream_, "\r  %-16s [%.*s%*s] %3d%%", label_.c_str(), filled,
                   "##############################", width - filled, "", percent);
      std::fflush(stream_);
    } else {
      const int quarter = static_cast<int>(fraction * 4);
      if (quarter <= last_step_) return;
      last_step_ = quarter;
      std::fprintf(stream_, "  %s: %d%%\n", label_.c_str(), quarter * 25);
      std::fflush(stream_);
    }
  }
  void end(const std::string& summary) {
    if (!enabled_) return;
    if (terminal_) std::fprintf(stream_, "\r  %-16s %-40s\n", label_.c_str(), summary.c_str());
    else std::fprintf(stream_, "  %s: done, %s\n", label_.c_str(), summary.c_str());
    std::fflush(stream_);
  }

 private:
  std::FILE* stream_;
  bool enabled_, terminal_;
  std::string label_;
  int last_step_ = -1;
};

}  // namespace lab
POWERBATCH_END_NAMESPACE
