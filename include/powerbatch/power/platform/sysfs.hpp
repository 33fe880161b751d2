// power::sysfs — reading the one-value files of Linux sysfs (/sys/class/thermal, power_supply, powercap) with
// errors as values: a missing, unreadable or malformed file gives an error code and a message naming the path.
//
// Plain stdio rather than iostreams: it keeps errno (ENOENT, EACCES, and ENODATA that some thermal zones return
// from read()), and sysfs files are a few bytes. The functions work on any platform; only Linux has the files.
#pragma once

#include <powerbatch/power/platform/error.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace power::sysfs {

struct text_result {
  std::string text;  // the content without trailing whitespace
  std::error_code error;
  std::string detail;  // "<path>: <what went wrong>" when error is set
};

struct integer_result {
  long long value = 0;
  std::error_code error;
  std::string detail;
};

inline std::string describe(const std::filesystem::path& path, const std::error_code& error) {
  return path.string() + ": " + error.message();
}

// Reads a small text file whole. Files larger than 4 KiB are not sysfs attributes and are cut there.
inline text_result read_text(const std::filesystem::path& path) {
  text_result result;
  errno = 0;
  std::FILE* file = std::fopen(path.string().c_str(), "rb");
  if (file == nullptr) {
    result.error = std::error_code(errno != 0 ? errno : EIO, std::generic_category());
    result.detail = describe(path, result.error);
    return result;
  }
  char buffer[4096];
  errno = 0;
  const std::size_t n = std::fread(buffer, 1, sizeof buffer, file);
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) {
    result.error = std::error_code(read_errno != 0 ? read_errno : EIO, std::generic_category());
    result.detail = describe(path, result.error);
    return result;
  }
  result.text.assign(buffer, n);
  while (!result.text.empty() && (result.text.back() == '\n' || result.text.back() == ' ' ||
                                  result.text.back() == '\t' || result.text.back() == '\r'))
    result.text.pop_back();
  return result;
}

// Reads a file holding one decimal integer (sysfs writes "%d\n" or "%llu\n").
inline integer_result read_integer(const std::filesystem::path& path) {
  integer_result result;
  text_result text = read_text(path);
  if (text.error) {
    result.error = text.error;
    result.detail = std::move(text.detail);
    return result;
  }
  const char* first = text.text.data();
  const char* last = first + text.text.size();
  const auto [end, ec] = std::from_chars(first, last, result.value);
  if (ec != std::errc() || end != last || first == last) {
    result.error = make_error_code(platform_errc::malformed_value);
    result.detail = path.string() + ": expected an integer, found \"" + text.text + "\"";
  }
  return result;
}

}  // namespace power::sysfs
POWERBATCH_END_NAMESPACE
