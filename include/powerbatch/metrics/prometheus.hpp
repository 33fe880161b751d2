// metrics::prometheus_text — metrics in the Prometheus text exposition format 0.0.4, ready to serve at /metrics
// (Content-Type: text/plain; version=0.0.4).
//
//   auto text = metrics::prometheus_text(batcher.observer().snapshot(), {.constant_labels = {{"service", "digits"}}});
//
// Each metric family has one `# HELP` and one `# TYPE` line followed by its samples, so several batchers go in one
// call (a list of profile_result, each labelled batcher="<name>"), never by concatenating two outputs.
// Families (durations in seconds, the Prometheus base unit):
//   powerbatch_queue_duration_seconds     histogram  submission -> dispatch, per request
//   powerbatch_backend_duration_seconds   histogram  the backend call, per batch
//   powerbatch_request_duration_seconds   histogram  submission -> backend call finished, per request
//   powerbatch_batch_size                 histogram  requests per batch
//   powerbatch_batches_total{reason}      counter    batches by flush reason (size, delay, deadline, priority, ...)
//   powerbatch_failed_batches_total       counter    batches whose backend call threw
//   powerbatch_processed_requests_total   counter    requests that reached the backend
//   powerbatch_failed_requests_total      counter    of those, requests of failed batches
//   powerbatch_rejected_requests_total{reason} counter requests finished without reaching the backend
//   powerbatch_dispatcher_runs_total      counter    dispatcher runs
//   powerbatch_wakeups_total              counter    dispatcher runs whose thread had slept
//   powerbatch_wakeups_per_request        gauge      the power figures' value when given, else the snapshot's
// and, for results that carry them, powerbatch_pool_* (buffer pool), powerbatch_energy_per_request_joules{source}
// and powerbatch_power_watts (power figures).
// Histogram buckets are cumulative, end with le="+Inf" (= _count), and sit on powers of two (of nanoseconds for
// durations), which are exact bucket edges of the recorder: each `le` count is exact, not interpolated.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/format.hpp>
#include <powerbatch/metrics/result.hpp>
#include <powerbatch/metrics/snapshot.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

struct prometheus_options {
  // Labels added to every sample, e.g. {{"service", "digits"}}; names must match [a-zA-Z_][a-zA-Z0-9_]*.
  std::vector<std::pair<std::string, std::string>> constant_labels;
  // The label that carries each result's name (left out for a result with an empty name).
  std::string result_label = "batcher";
  // Duration buckets: le = 2^k ns for k in [min, max] (default 1.024 µs .. 137 s), then +Inf.
  unsigned duration_le_min_log2 = 10;
  unsigned duration_le_max_log2 = 37;
  // Batch-size buckets: le = 1, 2, 4, ..., 2^max, then +Inf.
  unsigned batch_size_le_max_log2 = 12;
};

namespace detail {

inline bool valid_label_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return name.substr(0, 2) != "__";  // reserved for Prometheus itself
}

inline void check_label_name(std::string_view name, std::string_view what) {
  if (!valid_label_name(name) || name == "le" || name == "reason" || name == "source")
    throw std::invalid_argument("metrics::prometheus_text: " + std::string(what) + " \"" + std::string(name) +
                                "\" is not a usable Prometheus label name (it must match [a-zA-Z_][a-zA-Z0-9_]*, "
                                "not start with \"__\", and not be le, reason or source, which powerbatch uses)");
}

class prometheus_writer {
 public:
  prometheus_writer(std::span<const profile_result> results, const prometheus_options& options)
      : results_(results), options_(options) {
    check_label_name(options.result_label, "prometheus_options::result_label");
    for (const auto& [name, value] : options.constant_labels) {
      check_label_name(name, "constant label");
      if (name == options.result_label)
        throw std::invalid_argument("metrics::prometheus_text: constant label \"" + name +
                                    "\" is also prometheus_options::result_label");
    }
    if (options.duration_le_min_log2 > options.duration_le_max_log2 || options.duration_le_max_log2 > 62)
      throw std::invalid_argument(
          "metrics::prometheus_text: prometheus_options::duration_le_min_log2 must be <= duration_le_max_log2 <= 62");
    if (options.batch_size_le_max_log2 > 62)
      throw std::invalid_argument("metrics::prometheus_text: prometheus_options::batch_size_le_max_log2 must be <= 62");
  }

  std::string write() {
    histogram_family("powerbatch_queue_duration_seconds",
                     "Time each request waited from submission until its batch was dispatched.",
                     &metrics_snapshot::queue_time, true);
    histogram_family("powerbatch_backend_duration_seconds", "Time the backend spent running each batch.",
                     &metrics_snapshot::backend_time, true);
    histogram_family("powerbatch_request_duration_seconds",
                     "End-to-end latency of each request: submission until its batch's backend call finished.",
                     &metrics_snapshot::latency, true);
    histogram_family("powerbatch_batch_size", "Requests per batch.", &metrics_snapshot::batch_size, false);

    family("powerbatch_batches_total", "counter", "Batches run, by the reason they were flushed.");
    for (const profile_result& r : results_)
      for (std::size_t i = 0; i < flush_reason_count; ++i)
        sample("powerbatch_batches_total", r, {{"reason", to_string(static_cast<flush_reason>(i))}},
               format::number(r.metrics.flushes_by_reason[i]));
    counter_family("powerbatch_failed_batches_total", "Batches whose backend call threw.",
                   [](const profile_result& r) { return r.metrics.failed_batches; });
    counter_family("powerbatch_processed_requests_total", "Requests that reached the backend.",
                   [](const profile_result& r) { return r.metrics.requests; });
    counter_family("powerbatch_failed_requests_total",
                   "Requests that reached the backend in a batch that failed (backend_failed).",
                   [](const profile_result& r) { return r.metrics.failed_requests; });
    family("powerbatch_rejected_requests_total", "counter",
           "Requests that finished without reaching the backend, by reason.");
    for (const profile_result& r : results_)
      for (std::size_t i = 0; i < rejection_slot_count; ++i)
        sample("powerbatch_rejected_requests_total", r, {{"reason", rejection_label(i)}},
               format::number(r.metrics.rejections_by_reason[i]));
    counter_family("powerbatch_dispatcher_runs_total",
                   "Dispatcher runs: wake-ups posted by producers or batch completions, and timer expiries.",
                   [](const profile_result& r) { return r.metrics.dispatcher_runs; });
    counter_family("powerbatch_wakeups_total",
                   "Dispatcher runs whose thread had slept since its last dispatcher work (CPU wake-ups).",
                   [](const profile_result& r) { return r.metrics.thread_wakeups; });

    pool_families();
    power_families();
    return std::move(out_);
  }

 private:
  using label_list = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    format::append_help_text(out_, help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, const profile_result& r, label_list labels, const std::string& value) {
    out_ += name;
    bool first = true;
    const auto label = [&](std::string_view key, std::string_view text) {
      out_ += first ? '{' : ',';
      first = false;
      out_ += key;
      out_ += "=\"";
      format::append_label_value(out_, text);
      out_ += '"';
    };
    for (const auto& [key, text] : options_.constant_labels) label(key, text);
    if (!r.name.empty()) label(options_.result_label, r.name);
    for (const auto& [key, text] : labels) label(key, text);
    if (!first) out_ += '}';
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  template <class Get>
  void counter_family(std::string_view name, std::string_view help, Get get) {
    family(name, "counter", help);
    for (const profile_result& r : results_) sample(name, r, {}, format::number(get(r)));
  }

  void histogram_family(std::string_view name, std::string_view help, histogram_snapshot metrics_snapshot::*member,
                        bool nanoseconds) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (const profile_result& r : results_) {
      const histogram_snapshot& h = r.metrics.*member;
      const unsigned first = nanoseconds ? options_.duration_le_min_log2 : 0;
      const unsigned last = nanoseconds ? options_.duration_le_max_log2 : options_.batch_size_le_max_log2;
      for (unsigned k = first; k <= last; ++k) {
        const std::uint64_t edge = std::uint64_t{1} << k;
        const double le = nanoseconds ? static_cast<double>(edge) / 1e9 : static_cast<double>(edge);
        sample(bucket, r, {{"le", format::number(le)}}, format::number(h.count_at_or_below(edge)));
      }
      sample(bucket, r, {{"le", "+Inf"}}, format::number(h.count));
      const double sum = nanoseconds ? static_cast<double>(h.sum) / 1e9 : static_cast<double>(h.sum);
      sample(std::string(name) + "_sum", r, {}, format::number(sum));
      sample(std::string(name) + "_count", r, {}, format::number(h.count));
    }
  }

  void pool_families() {
    bool any = false;
    for (const profile_result& r : results_) any = any || r.pool.has_value();
    if (!any) return;
    const auto pool_family = [&](std::string_view name, std::string_view type, std::string_view help,
                                 std::uint64_t pool_figures::*field) {
      family(name, type, help);
      for (const profile_result& r : results_)
        if (r.pool) sample(name, r, {}, format::number((*r.pool).*field));
    };
    pool_family("powerbatch_pool_hits_total", "counter", "Buffer-pool acquires served by a shelved buffer.",
                &pool_figures::hits);
    pool_family("powerbatch_pool_misses_total", "counter", "Buffer-pool acquires that allocated.",
                &pool_figures::misses);
    pool_family("powerbatch_pool_rejections_total", "counter",
                "Buffer-pool acquires refused because the pool's byte limit would be passed.",
                &pool_figures::rejections);
    pool_family("powerbatch_pool_evictions_total", "counter",
                "Shelved buffers freed to make room or because their shelf was full.", &pool_figures::evictions);
    pool_family("powerbatch_pool_leased_bytes", "gauge", "Bytes in buffers currently leased.",
                &pool_figures::bytes_leased);
    pool_family("powerbatch_pool_shelved_bytes", "gauge", "Bytes in idle buffers waiting for reuse.",
                &pool_figures::bytes_shelved);
    pool_family("powerbatch_pool_peak_bytes", "gauge", "The most bytes the pool has held at once.",
                &pool_figures::peak_bytes);
    pool_family("powerbatch_pool_leased_buffers", "gauge", "Buffers currently leased.",
                &pool_figures::buffers_leased);
    pool_family("powerbatch_pool_shelved_buffers", "gauge", "Idle buffers waiting for reuse.",
                &pool_figures::buffers_shelved);
  }

  void power_families() {
    bool any_energy = false, any_power = false;
    for (const profile_result& r : results_) {
      any_energy = any_energy || (r.power && r.power->energy_mj_per_request);
      any_power = any_power || (r.power && r.power->average_power_mw);
    }
    family("powerbatch_wakeups_per_request", "gauge",
           "CPU wake-ups per request that reached the backend (power accounting's figure when given).");
    for (const profile_result& r : results_)
      sample("powerbatch_wakeups_per_request", r, {}, format::number(r.wakeups_per_request()));
    if (any_energy) {
      family("powerbatch_energy_per_request_joules", "gauge",
             "Energy per request that reached the backend; source says whether it was measured (RAPL) or modelled.");
      for (const profile_result& r : results_)
        if (r.power && r.power->energy_mj_per_request)
          sample("powerbatch_energy_per_request_joules", r,
                 {{"source", r.power->energy_source.empty() ? std::string_view("unknown")
                                                              : std::string_view(r.power->energy_source)}},
                 format::number(*r.power->energy_mj_per_request * 1e-3));
    }
    if (any_power) {
      family("powerbatch_power_watts", "gauge", "Average power drawn while serving.");
      for (const profile_result& r : results_)
        if (r.power && r.power->average_power_mw)
          sample("powerbatch_power_watts", r, {}, format::number(*r.power->average_power_mw * 1e-3));
    }
  }

  std::span<const profile_result> results_;
  const prometheus_options& options_;
  std::string out_;
};

}  // namespace detail

// Several runs in one exposition, each labelled with its name (prometheus_options::result_label).
// Throws std::invalid_argument naming a bad label name or bucket option.
inline std::string prometheus_text(std::span<const profile_result> results, const prometheus_options& options = {}) {
  return detail::prometheus_writer(results, options).write();
}

// One batcher's snapshot, with no result label.
inline std::string prometheus_text(const metrics_snapshot& snapshot, const prometheus_options& options = {}) {
  const profile_result single{std::string(), snapshot, std::nullopt, std::nullopt, std::nullopt};
  return prometheus_text(std::span<const profile_result>(&single, 1), options);
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
