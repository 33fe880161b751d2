// lab traces: open-loop arrival processes (Poisson, bursty, step, diurnal) and replay of a recorded CSV trace, all
// behind one pull interface so a simulation of millions of requests never holds them all in memory.
//
// A trace is described by a SPEC string, `kind:field=value,field=value` (what `--trace` takes):
//   poisson:rate=200,duration=20s                                   constant-rate Poisson arrivals
//   bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=20s  two-state Markov-modulated Poisson (MMPP-2):
//                                                                   exponential sojourns of mean mean_low/mean_high
//   step:from=100,to=400,at=10s,duration=20s                        Poisson whose rate steps from `from` to `to`
//   diurnal:mean=100,peak=3,period=24h,duration=24h                 Poisson with a daily cycle: trough at 0, peak
//                                                                   (peak x mean) at period/2, mean rate `mean`
//   csv:path/to/trace.csv                                           replay (format below)
// Fields every generator takes: duration, deadline (each request's timeout, e.g. 50ms; default none), keys (number
// of batching keys, default 1), urgent (fraction of requests at high priority, default 0). Rates are requests per
// second; durations take us, ms, s, m, h (a bare number is seconds).
//
// CSV trace: one request per line, `arrival_s,priority,key,deadline_ms`: arrival in seconds from the start of the
// trace (non-decreasing), priority 0..255 (0 most urgent; empty = 1, normal), batching key (empty = 0), deadline in
// milliseconds after arrival (empty or 0 = none). '#' starts a comment line; a first line that starts with a letter
// is a header. A malformed line is an error that names the file, the line and the column.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>
#include <powerbatch/lab/random.hpp>
#include <powerbatch/request_options.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <numbers>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// A bad --trace spec, CSV line or other user input; the message names what is wrong.
struct input_error : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// One request of a trace.
struct arrival {
  duration at{};                                     // since the start of the trace
  priority_level priority = priority_levels::normal;
  batching_key key = 0;
  duration timeout = duration::zero();               // deadline after arrival; zero: none
};

// Pulls arrivals in time order. Sources are single-use: make a new one (same seed) to replay.
class arrival_source {
 public:
  virtual ~arrival_source() = default;
  // Writes the next arrival and returns true, or returns false at the end of the trace.
  virtual bool next(arrival& out) = 0;
  // The trace's nominal length and expected request count (for progress bars and sizing).
  virtual duration length() const noexcept = 0;
  virtual double expected_requests() const noexcept = 0;
};

// ---- parsing helpers ------------------------------------------------------------------------------------------

namespace trace_detail {

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

inline bool parse_double(std::string_view text, double& out) noexcept {
  text = trim(text);
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() && std::isfinite(out);
}

template <class Int>
bool parse_integer(std::string_view text, Int& out) noexcept {
  text = trim(text);
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace trace_detail

// Parses "250ms", "2.5s", "24h", "10m", "800us" or a bare number of seconds. Throws input_error naming `what`.
inline duration parse_duration(std::string_view text, std::string_view what) {
  text = trace_detail::trim(text);
  struct unit {
    std::string_view suffix;
    double seconds;
  };
  static constexpr unit units[] = {{"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}};
  double scale = 1.0;
  std::string_view number = text;
  for (const unit& u : units) {
    if (text.size() > u.suffix.size() && text.ends_with(u.suffix)) {
      // "ms" and "us" end in "s" too: take the longest suffix whose remainder parses.
      double probe;
      if (trace_detail::parse_double(text.substr(0, text.size() - u.suffix.size()), probe)) {
        scale = u.seconds;
        number = text.substr(0, text.size() - u.suffix.size());
        break;
      }
    }
  }
  double value;
  if (!trace_detail::parse_double(number, value) || value < 0)
    throw input_error(std::string(what) + ": '" + std::string(text) +
                      "' is not a duration (examples: 500us, 20ms, 2.5s, 10m, 24h)");
  return std::chrono::round<duration>(std::chrono::duration<double>(value * scale));
}

// A parsed --trace spec: its kind and its fields, checked against what the kind accepts.
struct trace_spec {
  std::string kind;                           // poisson, bursty, step, diurnal, csv
  std::string path;                           // csv only
  std::map<std::string, std::string> fields;  // field=value pairs, as written
  std::string text;                           // the spec as given

  // The fields each kind accepts, with their defaults (shown by --help).
  static const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& kinds() {
    static const std::map<std::string, std::vector<std::pair<std::string, std::string>>> table = {
        {"poisson", {{"rate", "100"}, {"duration", "20s"}}},
        {"bursty",
         {{"low", "50"}, {"high", "800"}, {"mean_low", "2s"}, {"mean_high", "0.5s"}, {"duration", "20s"}}},
        {"step", {{"from", "100"}, {"to", "400"}, {"at", "10s"}, {"duration", "20s"}}},
        {"diurnal", {{"mean", "100"}, {"peak", "3"}, {"period", "24h"}, {"duration", "24h"}}},
        {"csv", {}},
    };
    return table;
  }
  static const std::vector<std::pair<std::string, std::string>>& common_fields() {
    static const std::vector<std::pair<std::string, std::string>> fields = {
        {"deadline", "none"}, {"keys", "1"}, {"urgent", "0"}};
    return fields;
  }

  // The value of `field`, or its default for this kind.
  std::string get(const std::string& field) const {
    if (auto it = fields.find(field); it != fields.end()) return it->second;
    for (const auto& [name, value] : kinds().at(kind))
      if (name == field) return value;
    for (const auto& [name, value] : common_fields())
      if (name == field) return value;
    return {};
  }
  double number(const std::string& field) const {
    double value;
    const std::string text = get(field);
    if (!trace_detail::parse_double(text, value) || value < 0)
      throw input_error("trace '" + this->text + "': field " + field + "='" + text +
                        "' is not a non-negative number");
    return value;
  }
  duration time(const std::string& field) const {
    return parse_duration(get(field), "trace '" + text + "': field " + field);
  }
};

inline std::string valid_trace_kinds() {
  std::string list;
  for (const auto& [kind, fields] : trace_spec::kinds()) list += list.empty() ? kind : ", " + kind;
  return list;
}

// Parses `kind:field=value,...` (or `csv:path`). Throws input_error naming the unknown kind or field.
inline trace_spec parse_trace_spec(std::string_view text) {
  trace_spec spec;
  spec.text = std::string(text);
  const std::size_t colon = text.find(':');
  spec.kind = std::string(trace_detail::trim(text.substr(0, colon)));
  const auto& kinds = trace_spec::kinds();
  const auto kind = kinds.find(spec.kind);
  if (kind == kinds.end())
    throw input_error("trace '" + spec.text + "': unknown kind '" + spec.kind + "' (valid: " + valid_trace_kinds() +
                      ")");
  const std::string_view rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (spec.kind == "csv") {
    spec.path = std::string(trace_detail::trim(rest));
    if (spec.path.empty()) throw input_error("trace '" + spec.text + "': csv needs a path, e.g. csv:trace.csv");
    return spec;
  }
  std::size_t start = 0;
  while (start < rest.size()) {
    std::size_t comma = rest.find(',', start);
    if (comma == std::string_view::npos) comma = rest.size();
    const std::string_view item = trace_detail::trim(rest.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw input_error("trace '" + spec.text + "': '" + std::string(item) + "' is not field=value");
    const std::string name(trace_detail::trim(item.substr(0, eq)));
    bool known = false;
    std::string valid;
    for (const auto& [field, value] : kind->second) {
      known = known || field == name;
      valid += valid.empty() ? field : ", " + field;
    }
    for (const auto& [field, value] : trace_spec::common_fields()) {
      known = known || field == name;
      valid += ", " + field;
    }
    if (!known)
      throw input_error("trace '" + spec.text + "': unknown field '" + name + "' for " + spec.kind + " (valid: " +
                        valid + ")");
    spec.fields[name] = std::string(trace_detail::trim(item.substr(eq + 1)));
  }
  // Validate every field now, so a typo fails before a long run starts.
  for (const auto& [field, value] : kind->second) {
    if (field == "duration" || field == "at" || field == "period" || field.starts_with("mean_"))
      (void)spec.time(field);
    else
      (void)spec.number(field);
  }
  if (spec.get("deadline") != "none") (void)spec.time("deadline");
  (void)spec.number("keys");
  if (spec.number("urgent") > 1) throw input_error("trace '" + spec.text + "': field urgent must be in [0, 1]");
  return spec;
}

// ---- generators -----------------------------------------------------------------------------------------------

// Shared by the generated traces: seeded randomness and the per-request decorations (deadline, key, priority).
class generated_source : public arrival_source {
 public:
  generated_source(const trace_spec& spec, std::uint64_t seed)
      : rng_(seed),
        length_(spec.time("duration")),
        keys_(std::max<std::uint64_t>(1, static_cast<std::uint64_t>(spec.number("keys")))),
        urgent_fraction_(spec.number("urgent")) {
    if (spec.get("deadline") != "none") timeout_ = spec.time("deadline");
  }

  duration length() const noexcept override { return length_; }

 protected:
  // Fills `out` for an arrival `seconds` after the start; false once past the trace's length.
  bool emit(double seconds, arrival& out) {
    out.at = std::chrono::round<duration>(std::chrono::duration<double>(seconds));
    if (out.at >= length_) return false;
    out.priority = urgent_fraction_ > 0 && rng_.chance(urgent_fraction_) ? priority_levels::high
                                                                          : priority_levels::normal;
    out.key = keys_ > 1 ? rng_.below(keys_) : 0;
    out.timeout = timeout_;
    return true;
  }
  double length_seconds() const noexcept { return std::chrono::duration<double>(length_).count(); }

  random_source rng_;
  duration length_;

 private:
  std::uint64_t keys_;
  double urgent_fraction_;
  duration timeout_ = duration::zero();
};

inline double seconds_of(duration d) noexcept { return std::chrono::duration<double>(d).count(); }

// Constant-rate Poisson: exponential gaps of mean 1/rate.
class poisson_source final : public generated_source {
 public:
  poisson_source(const trace_spec& spec, std::uint64_t seed) : generated_source(spec, seed), rate_(spec.number("rate")) {
    if (rate_ <= 0) throw input_error("trace '" + spec.text + "': rate must be > 0");
  }
  bool next(arrival& out) override {
    t_ += rng_.exponential(1.0 / rate_);
    return emit(t_, out);
  }
  double expected_requests() const noexcept override { return rate_ * length_seconds(); }

 private:
  double rate_;
  double t_ = 0;
};

// MMPP-2: a low-rate and a high-rate state with exponentially distributed sojourns. The Poisson process is
// memoryless, so at a state change the next gap is simply drawn again at the new rate.
class bursty_source final : public generated_source {
 public:
  bursty_source(const trace_spec& spec, std::uint64_t seed)
      : generated_source(spec, seed),
        rate_{spec.number("low"), spec.number("high")},
        mean_sojourn_{seconds_of(spec.time("mean_low")), seconds_of(spec.time("mean_high"))} {
    if (mean_sojourn_[0] <= 0 || mean_sojourn_[1] <= 0)
      throw input_error("trace '" + spec.text + "': mean_low and mean_high must be > 0");
    state_end_ = rng_.exponential(mean_sojourn_[0]);
  }
  bool next(arrival& out) override {
    for (;;) {
      const double gap = rate_[state_] > 0 ? rng_.exponential(1.0 / rate_[state_]) : INFINITY;
      if (t_ + gap < state_end_) {
        t_ += gap;
        return emit(t_, out);
      }
      t_ = state_end_;
      if (t_ >= length_seconds()) return false;
      state_ ^= 1;
      state_end_ = t_ + rng_.exponential(mean_sojourn_[state_]);
    }
  }
  double expected_requests() const noexcept override {
    const double share_high = mean_sojourn_[1] / (mean_sojourn_[0] + mean_sojourn_[1]);
    return (rate_[0] * (1 - share_high) + rate_[1] * share_high) * length_seconds();
  }

 private:
  double rate_[2];
  double mean_sojourn_[2];
  int state_ = 0;
  double t_ = 0;
  double state_end_ = 0;
};

// Poisson at `from` until `at`, then at `to`.
class step_source final : public generated_source {
 public:
  step_source(const trace_spec& spec, std::uint64_t seed)
      : generated_source(spec, seed), from_(spec.number("from")), to_(spec.number("to")),
        at_(seconds_of(spec.time("at"))) {}
  bool next(arrival& out) override {
    for (;;) {
      const double rate = t_ < at_ ? from_ : to_;
      const double gap = rate > 0 ? rng_.exponential(1.0 / rate) : INFINITY;
      if (t_ < at_ && t_ + gap >= at_) {
        t_ = at_;  // memoryless: restart the gap at the new rate
        continue;
      }
      t_ += gap;
      return std::isfinite(t_) && emit(t_, out);
    }
  }
  double expected_requests() const noexcept override {
    const double len = length_seconds();
    return from_ * std::min(at_, len) + to_ * std::max(0.0, len - at_);
  }

 private:
  double from_, to_, at_;
  double t_ = 0;
};

// A daily cycle: rate(t) = mean · exp(-k·cos(2πt/period)) / I0(k), a smooth positive curve whose average over a
// period is `mean`, lowest at t = 0 and highest (peak × mean) at period/2; k is solved from `peak`. Arrivals come
// from thinning a Poisson process at the peak rate.
class diurnal_source final : public generated_source {
 public:
  diurnal_source(const trace_spec& spec, std::uint64_t seed)
      : generated_source(spec, seed), mean_(spec.number("mean")), peak_(spec.number("peak")),
        period_(seconds_of(spec.time("period"))) {
    if (mean_ <= 0) throw input_error("trace '" + spec.text + "': mean must be > 0");
    if (peak_ < 1) throw input_error("trace '" + spec.text + "': peak must be >= 1 (peak rate / mean rate)");
    if (period_ <= 0) throw input_error("trace '" + spec.text + "': period must be > 0");
    k_ = solve_k(peak_);
    norm_ = 1.0 / std::cyl_bessel_i(0.0, k_);
  }
  // The rate the trace follows at `seconds` after its start.
  double rate_at(double seconds) const noexcept {
    return mean_ * norm_ * std::exp(-k_ * std::cos(2 * std::numbers::pi * seconds / period_));
  }
  bool next(arrival& out) override {
    const double max_rate = mean_ * peak_;
    for (;;) {
      t_ += rng_.exponential(1.0 / max_rate);
      if (t_ >= length_seconds()) return false;
      if (rng_.uniform() * max_rate < rate_at(t_)) return emit(t_, out);
    }
  }
  double expected_requests() const noexcept override { return mean_ * length_seconds(); }

 private:
  // peak = e^k / I0(k), increasing in k: bisection.
  static double solve_k(double peak) {
    if (peak <= 1.0) return 0.0;
    double lo = 0, hi = 1;
    while (std::exp(hi) / std::cyl_bessel_i(0.0, hi) < peak && hi < 600) hi *= 2;
    for (int i = 0; i < 100; ++i) {
      const double mid = (lo + hi) / 2;
      (std::exp(mid) / std::cyl_bessel_i(0.0, mid) < peak ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
  }
  double mean_, peak_, period_;
  double k_ = 0, norm_ = 1;
  double t_ = 0;
};

// ---- CSV traces -----------------------------------------------------------------------------------------------

// Parses a CSV trace (format at the top of this file). `name` is used in error messages (the file's path).
inline std::vector<arrival> parse_trace_csv(std::istream& in, const std::string& name) {
  std::vector<arrival> arrivals;
  std::string line;
  std::size_t line_number = 0;
  bool first_content = true;
  double previous = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string_view text = trace_detail::trim(line);
    if (text.empty() || text.front() == '#') continue;
    const std::string where = name + ":" + std::to_string(line_number) + ": ";
    if (first_content) {
      first_content = false;
      if ((text.front() >= 'a' && text.front() <= 'z') || (text.front() >= 'A' && text.front() <= 'Z')) continue;
    }
    std::string_view columns[4];
    std::size_t count = 0, start = 0;
    for (;;) {
      const std::size_t comma = text.find(',', start);
      if (count == 4)
        throw input_error(where + "too many columns (expected arrival_s,priority,key,deadline_ms)");
      columns[count++] = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    arrival a;
    double seconds;
    if (!trace_detail::parse_double(columns[0], seconds) || seconds < 0)
      throw input_error(where + "column 1 (arrival_s): '" + std::string(columns[0]) +
                        "' is not a non-negative number of seconds");
    if (seconds < previous)
      throw input_error(where + "column 1 (arrival_s): " + std::string(trace_detail::trim(columns[0])) +
                        " is earlier than the previous line's arrival; the trace must be in time order");
    previous = seconds;
    a.at = std::chrono::round<duration>(std::chrono::duration<double>(seconds));
    if (count > 1 && !trace_detail::trim(columns[1]).empty()) {
      unsigned value;
      if (!trace_detail::parse_integer(columns[1], value) || value > 255)
        throw input_error(where + "column 2 (priority): '" + std::string(columns[1]) +
                          "' is not an integer in 0..255");
      a.priority = static_cast<priority_level>(value);
    }
    if (count > 2 && !trace_detail::trim(columns[2]).empty() && !trace_detail::parse_integer(columns[2], a.key))
      throw input_error(where + "column 3 (key): '" + std::string(columns[2]) + "' is not a non-negative integer");
    if (count > 3 && !trace_detail::trim(columns[3]).empty()) {
      double ms;
      if (!trace_detail::parse_double(columns[3], ms) || ms < 0)
        throw input_error(where + "column 4 (deadline_ms): '" + std::string(columns[3]) +
                          "' is not a non-negative number of milliseconds");
      a.timeout = std::chrono::round<duration>(std::chrono::duration<double, std::milli>(ms));
    }
    arrivals.push_back(a);
  }
  return arrivals;
}

inline std::vector<arrival> load_trace_csv(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw input_error("trace file '" + path + "' cannot be opened");
  return parse_trace_csv(file, path);
}

// Writes arrivals in the CSV trace format (so a generated trace can be recorded and replayed).
inline void write_trace_csv(std::ostream& out, const std::vector<arrival>& arrivals) {
  out << "arrival_s,priority,key,deadline_ms\n";
  char buffer[96];
  for (const arrival& a : arrivals) {
    const int n = std::snprintf(buffer, sizeof buffer, "%.9f,%u,%llu,%.6g\n", seconds_of(a.at),
                                static_cast<unsigned>(a.priority), static_cast<unsigned long long>(a.key),
                                std::chrono::duration<double, std::milli>(a.timeout).count());
    out.write(buffer, n);
  }
}

// Replays a loaded CSV trace.
class csv_source final : public arrival_source {
 public:
  explicit csv_source(std::vector<arrival> arrivals) : arrivals_(std::move(arrivals)) {}
  bool next(arrival& out) override {
    if (position_ == arrivals_.size()) return false;
    out = arrivals_[position_++];
    return true;
  }
  duration length() const noexcept override { return arrivals_.empty() ? duration::zero() : arrivals_.back().at; }
  double expected_requests() const noexcept override { return static_cast<double>(arrivals_.size()); }

 private:
  std::vector<arrival> arrivals_;
  std::size_t position_ = 0;
};

// A fresh source for `spec`; the same spec and seed give the same arrivals.
inline std::unique_ptr<arrival_source> make_source(const trace_spec& spec, std::uint64_t seed) {
  if (spec.kind == "poisson") return std::make_unique<poisson_source>(spec, seed);
  if (spec.kind == "bursty") return std::make_unique<bursty_source>(spec, seed);
  if (spec.kind == "step") return std::make_unique<step_source>(spec, seed);
  if (spec.kind == "diurnal") return std::make_unique<diurnal_source>(spec, seed);
  if (spec.kind == "csv") return std::make_unique<csv_source>(load_trace_csv(spec.path));
  throw input_error("trace '" + spec.text + "': unknown kind '" + spec.kind + "' (valid: " + valid_trace_kinds() +
                    ")");
}

// All arrivals of a source, for short traces (tests, recording).
inline std::vector<arrival> collect(arrival_source& source) {
  std::vector<arrival> arrivals;
  arrival a;
  while (source.next(a)) arrivals.push_back(a);
  return arrivals;
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
