// Text helpers the exposition formats share: shortest round-trip numbers, JSON / HTML / Markdown / Prometheus
// escaping, and durations in human units. Every function appends to or returns a std::string.
#pragma once

#include <powerbatch/config.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics::format {

// The shortest decimal text that reads back as the same double ("0.001", "1.024e-06"); "NaN", "+Inf", "-Inf" as
// Prometheus writes them.
inline std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc{} ? std::string(buffer, end) : std::string("NaN");
}

inline std::string number(std::uint64_t value) { return std::to_string(value); }

// A fixed number of decimals, for tables people read ("12.35").
inline std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// Nanoseconds in the unit that keeps 3 significant digits readable: "850 ns", "12.4 µs", "3.07 ms", "1.25 s".
inline std::string duration_ns(double ns) {
  if (!std::isfinite(ns)) return "n/a";
  char buffer[64];
  const double magnitude = std::fabs(ns);
  if (magnitude < 1e3)
    std::snprintf(buffer, sizeof buffer, "%.0f ns", ns);
  else if (magnitude < 1e6)
    std::snprintf(buffer, sizeof buffer, "%.3g \xC2\xB5s", ns / 1e3);
  else if (magnitude < 1e9)
    std::snprintf(buffer, sizeof buffer, "%.3g ms", ns / 1e6);
  else
    std::snprintf(buffer, sizeof buffer, "%.3g s", ns / 1e9);
  return buffer;
}

// A JSON string literal, quotes included (RFC 8259: ", \ and control characters escaped; other bytes kept, so
// UTF-8 passes through).
inline void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// A JSON number; JSON has no NaN or infinity, so those become null.
inline std::string json_number(double value) { return std::isfinite(value) ? number(value) : std::string("null"); }

// Text safe inside HTML elements and attribute values.
inline std::string html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Text safe inside a Markdown table cell or heading: the characters that start emphasis, code, links, HTML or a
// cell border are backslash-escaped; line breaks become spaces.
inline std::string markdown_cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      if (std::string_view("\\`*_[]<>|~").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
  }
  return out;
}

// A Prometheus label value: \, " and newline escaped (text format 0.0.4).
inline void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// A Prometheus HELP text: \ and newline escaped.
inline void append_help_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

}  // namespace metrics::format
POWERBATCH_END_NAMESPACE
