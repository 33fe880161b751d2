// metrics::json — metrics as JSON (RFC 8259), written by hand so that no compiled library is needed.
//
//   metrics::json(snapshot)           one snapshot: counters, and per histogram its count, sum, min, max, mean,
//                                     p50/p90/p99/p99.9 and non-empty buckets ({"le": upper edge, "count": n})
//   metrics::json_report(results)     seed 001's JSON power-efficiency report: {"title", "profiles": [{"name",
//                                     "metrics", "power", "pool", "duration_seconds", "throughput_per_second"}]}
// Durations are in seconds (keys end in _seconds); numbers are shortest round-trip decimals; a figure a result
// lacks is left out, and a non-finite number is written as null.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/format.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/result.hpp>
#include <powerbatch/metrics/snapshot.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

namespace detail {

class json_writer {
 public:
  std::string out;

  // Objects: open(), then key/value pairs, then close(). Commas are placed automatically.
  void open_object() { open('{'); }
  void close_object() { close('}'); }
  void open_array() { open('['); }
  void close_array() { close(']'); }
  void key(std::string_view name) {
    if (!first_) out += ',';
    format::append_json_string(out, name);
    out += ':';
    after_key_ = true;
  }
  void value(std::string_view text) {
    begin_value();
    format::append_json_string(out, text);
  }
  void value(double number) {
    begin_value();
    out += format::json_number(number);
  }
  void value(std::uint64_t number) {
    begin_value();
    out += format::number(number);
  }
  template <class T>
  void field(std::string_view name, const T& v) {
    key(name);
    value(v);
  }

 private:
  void open(char bracket) {
    begin_value();
    out += bracket;
    first_ = true;
  }
  void close(char bracket) {
    out += bracket;
    first_ = false;
  }
  void begin_value() {
    if (!after_key_ && !first_) out += ',';
    after_key_ = false;
    first_ = false;
  }
  bool first_ = true;
  bool after_key_ = false;
};

// `divisor` converts the recorded integers to the unit written (1e9: nanoseconds to seconds).
inline void write_histogram(json_writer& w, const histogram_snapshot& h, double divisor) {
  w.open_object();
  w.field("count", h.count);
  w.field("sum", static_cast<double>(h.sum) / divisor);
  w.field("min", static_cast<double>(h.min) / divisor);
  w.field("max", static_cast<double>(h.max) / divisor);
  w.field("mean", h.mean() / divisor);
  for (const percentile_point& p : reported_percentiles) w.field(p.key, h.percentile(p.q) / divisor);
  w.key("buckets");
  w.open_array();
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    if (h.buckets[i] == 0) continue;
    w.open_object();
    w.field("le", static_cast<double>(bucket_upper(i)) / divisor);
    w.field("count", h.buckets[i]);
    w.close_object();
  }
  w.close_array();
  w.close_object();
}

inline void write_snapshot(json_writer& w, const metrics_snapshot& s) {
  w.open_object();
  w.field("batches", s.batches);
  w.field("failed_batches", s.failed_batches);
  w.field("requests", s.requests);
  w.field("failed_requests", s.failed_requests);
  w.field("completed", s.completed());
  w.field("rejected", s.rejected());
  w.field("mean_batch_size", s.mean_batch_size());
  w.key("flushes");
  w.open_object();
  for (std::size_t i = 0; i < flush_reason_count; ++i)
    w.field(to_string(static_cast<flush_reason>(i)), s.flushes_by_reason[i]);
  w.close_object();
  w.key("rejections");
  w.open_object();
  for (std::size_t i = 0; i < rejection_slot_count; ++i) w.field(rejection_label(i), s.rejections_by_reason[i]);
  w.close_object();
  w.field("dispatcher_runs", s.dispatcher_runs);
  w.field("thread_wakeups", s.thread_wakeups);
  w.field("wakeups_per_request", s.wakeups_per_request());
  w.key("queue_time_seconds");
  write_histogram(w, s.queue_time, 1e9);
  w.key("backend_time_seconds");
  write_histogram(w, s.backend_time, 1e9);
  w.key("latency_seconds");
  write_histogram(w, s.latency, 1e9);
  w.key("batch_size");
  write_histogram(w, s.batch_size, 1.0);
  w.close_object();
}

inline void optional_field(json_writer& w, std::string_view name, const std::optional<double>& v) {
  if (v) w.field(name, *v);
}

inline void write_result(json_writer& w, const profile_result& r) {
  w.open_object();
  w.field("name", std::string_view(r.name));
  optional_field(w, "duration_seconds", r.duration_seconds);
  optional_field(w, "throughput_per_second", r.throughput_per_second());
  w.field("wakeups_per_request", r.wakeups_per_request());
  w.key("metrics");
  write_snapshot(w, r.metrics);
  if (r.power) {
    const power_figures& p = *r.power;
    w.key("power");
    w.open_object();
    optional_field(w, "wakeups_per_request", p.wakeups_per_request);
    optional_field(w, "energy_mj_per_request", p.energy_mj_per_request);
    if (!p.energy_source.empty()) w.field("energy_source", std::string_view(p.energy_source));
    optional_field(w, "average_power_mw", p.average_power_mw);
    optional_field(w, "battery_percent_per_hour", p.battery_percent_per_hour);
    w.close_object();
  }
  if (r.pool) {
    const pool_figures& p = *r.pool;
    w.key("pool");
    w.open_object();
    w.field("hits", p.hits);
    w.field("misses", p.misses);
    w.field("rejections", p.rejections);
    w.field("evictions", p.evictions);
    w.field("hit_ratio", p.hit_ratio());
    w.field("bytes_leased", p.bytes_leased);
    w.field("bytes_shelved", p.bytes_shelved);
    w.field("peak_bytes", p.peak_bytes);
    w.field("buffers_leased", p.buffers_leased);
    w.field("buffers_shelved", p.buffers_shelved);
    w.close_object();
  }
  w.close_object();
}

}  // namespace detail

// One snapshot as a JSON object.
inline std::string json(const metrics_snapshot& snapshot) {
  detail::json_writer w;
  detail::write_snapshot(w, snapshot);
  return std::move(w.out);
}

// One run (name, metrics, power and pool figures) as a JSON object.
inline std::string json(const profile_result& result) {
  detail::json_writer w;
  detail::write_result(w, result);
  return std::move(w.out);
}

// Seed 001's JSON report: every run, side by side.
inline std::string json_report(std::span<const profile_result> results,
                               std::string_view title = "powerbatch power-efficiency report") {
  detail::json_writer w;
  w.open_object();
  w.field("title", title);
  w.key("profiles");
  w.open_array();
  for (const profile_result& r : results) detail::write_result(w, r);
  w.close_array();
  w.close_object();
  return std::move(w.out);
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
