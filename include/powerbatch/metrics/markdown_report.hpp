// metrics::markdown_report — seed 001's power-efficiency report in Markdown (GitHub-flavoured tables), for one run
// or several side by side (one row or column per profile / policy set).
//
// Sections: summary (requests, batches, mean batch size, end-to-end p50/p90/p99/p99.9, wake-ups and energy per
// request, throughput, rejections), latency (end to end, queue, backend), batch sizes, flush reasons, rejections,
// power (when given) and buffer pool (when given).
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/format.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/report_options.hpp>
#include <powerbatch/metrics/result.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

namespace detail {

class markdown_table {
 public:
  explicit markdown_table(std::vector<std::string> header) : columns_(header.size()) { row(header, true); }

  void row(const std::vector<std::string>& cells, bool header = false) {
    text_ += '|';
    for (std::size_t i = 0; i < columns_; ++i) {
      text_ += ' ';
      text_ += i < cells.size() ? cells[i] : std::string();
      text_ += " |";
    }
    text_ += '\n';
    if (header) {
      text_ += '|';
      for (std::size_t i = 0; i < columns_; ++i) text_ += i == 0 ? "---|" : "---:|";
      text_ += '\n';
    }
  }
  std::string str() const { return text_ + '\n'; }

 private:
  std::size_t columns_;
  std::string text_;
};

inline std::string profile_label(const profile_result& r, std::size_t index) {
  return r.name.empty() ? "run " + std::to_string(index + 1) : format::markdown_cell(r.name);
}

inline std::string optional_number(const std::optional<double>& v, int decimals) {
  return v ? format::fixed(*v, decimals) : std::string("\xE2\x80\x94");  // an em dash: not given
}

inline std::string percent(double ratio) { return format::fixed(100.0 * ratio, 1) + " %"; }

}  // namespace detail

inline std::string markdown_report(std::span<const profile_result> results, const report_options& options = {}) {
  using detail::markdown_table;
  using detail::profile_label;
  std::string md = "# " + format::markdown_cell(options.title) + "\n\n";
  if (!options.generated.empty()) md += "_" + format::markdown_cell(options.generated) + "_\n\n";
  if (!options.description.empty()) md += format::markdown_cell(options.description) + "\n\n";

  md += "## Summary\n\n";
  {
    markdown_table t({"profile", "requests", "batches", "mean batch", "p50", "p90", "p99", "p99.9",
                      "wake-ups / request", "energy / request (mJ)", "energy source", "throughput (req/s)",
                      "rejected"});
    for (std::size_t i = 0; i < results.size(); ++i) {
      const profile_result& r = results[i];
      std::vector<std::string> row{profile_label(r, i), format::number(r.metrics.requests),
                                   format::number(r.metrics.batches), format::fixed(r.metrics.mean_batch_size(), 2)};
      for (const percentile_point& p : reported_percentiles)
        row.push_back(format::duration_ns(r.metrics.latency.percentile(p.q)));
      row.push_back(format::fixed(r.wakeups_per_request(), 3));
      row.push_back(detail::optional_number(r.power ? r.power->energy_mj_per_request : std::nullopt, 4));
      row.push_back(r.power && !r.power->energy_source.empty() ? format::markdown_cell(r.power->energy_source)
                                                               : std::string("\xE2\x80\x94"));
      row.push_back(detail::optional_number(r.throughput_per_second(), 0));
      row.push_back(format::number(r.metrics.rejected()));
      t.row(row);
    }
    md += t.str();
  }

  md += "## Latency\n\nEnd to end is submission until the batch's backend call finished; queue time is submission "
        "until dispatch; backend time is per batch.\n\n";
  {
    markdown_table t({"profile", "measure", "count", "mean", "p50", "p90", "p99", "p99.9", "max"});
    for (std::size_t i = 0; i < results.size(); ++i) {
      const profile_result& r = results[i];
      const std::pair<const char*, const histogram_snapshot*> measures[] = {
          {"end to end", &r.metrics.latency}, {"queue", &r.metrics.queue_time}, {"backend", &r.metrics.backend_time}};
      for (const auto& [label, h] : measures) {
        std::vector<std::string> row{profile_label(r, i), label, format::number(h->count),
                                     format::duration_ns(h->mean())};
        for (const percentile_point& p : reported_percentiles) row.push_back(format::duration_ns(h->percentile(p.q)));
        row.push_back(format::duration_ns(static_cast<double>(h->max)));
        t.row(row);
      }
    }
    md += t.str();
  }

  md += "## Batch sizes\n\nBatches per size range.\n\n";
  {
    const std::vector<batch_size_bin> bins = batch_size_bins(results);
    std::vector<std::string> header{"profile"};
    for (const batch_size_bin& b : bins) header.push_back(b.label());
    markdown_table t(header);
    for (std::size_t i = 0; i < results.size(); ++i) {
      std::vector<std::string> row{profile_label(results[i], i)};
      for (const batch_size_bin& b : bins) row.push_back(format::number(batches_in(results[i].metrics.batch_size, b)));
      t.row(row);
    }
    md += t.str();
  }

  md += "## Flush reasons\n\nWhy each batch left the queue: batches (share of all batches).\n\n";
  {
    std::vector<std::string> header{"profile"};
    for (std::size_t k = 0; k < flush_reason_count; ++k) header.push_back(to_string(static_cast<flush_reason>(k)));
    markdown_table t(header);
    for (std::size_t i = 0; i < results.size(); ++i) {
      const metrics_snapshot& s = results[i].metrics;
      std::vector<std::string> row{profile_label(results[i], i)};
      for (std::size_t k = 0; k < flush_reason_count; ++k)
        row.push_back(format::number(s.flushes_by_reason[k]) + " (" +
                      detail::percent(share(s.flushes_by_reason[k], s.batches)) + ")");
      t.row(row);
    }
    md += t.str();
  }

  md += "## Rejections\n\nRequests that finished without reaching the backend, and requests of failed batches.\n\n";
  {
    std::vector<std::string> header{"profile"};
    for (std::size_t k = 0; k < rejection_slot_count; ++k) header.push_back(format::markdown_cell(rejection_label(k)));
    header.push_back("backend\\_failed");
    markdown_table t(header);
    for (std::size_t i = 0; i < results.size(); ++i) {
      const metrics_snapshot& s = results[i].metrics;
      std::vector<std::string> row{profile_label(results[i], i)};
      for (std::size_t k = 0; k < rejection_slot_count; ++k) row.push_back(format::number(s.rejections_by_reason[k]));
      row.push_back(format::number(s.failed_requests));
      t.row(row);
    }
    md += t.str();
  }

  md += "## Power\n\nWake-ups are dispatcher runs whose thread had slept (CPU wake-ups).\n\n";
  {
    markdown_table t({"profile", "dispatcher runs", "wake-ups", "wake-ups / request", "energy / request (mJ)",
                      "energy source", "average power (mW)", "battery impact (%/h)"});
    for (std::size_t i = 0; i < results.size(); ++i) {
      const profile_result& r = results[i];
      const power_figures none{};
      const power_figures& p = r.power ? *r.power : none;
      t.row({profile_label(r, i), format::number(r.metrics.dispatcher_runs), format::number(r.metrics.thread_wakeups),
             format::fixed(r.wakeups_per_request(), 3), detail::optional_number(p.energy_mj_per_request, 4),
             p.energy_source.empty() ? std::string("\xE2\x80\x94") : format::markdown_cell(p.energy_source),
             detail::optional_number(p.average_power_mw, 1), detail::optional_number(p.battery_percent_per_hour, 2)});
    }
    md += t.str();
  }

  bool any_pool = false;
  for (const profile_result& r : results) any_pool = any_pool || r.pool.has_value();
  if (any_pool) {
    md += "## Buffer pool\n\n";
    markdown_table t({"profile", "hits", "misses", "hit ratio", "rejections", "evictions", "bytes leased",
                      "bytes shelved", "peak bytes"});
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (!results[i].pool) continue;
      const pool_figures& p = *results[i].pool;
      t.row({profile_label(results[i], i), format::number(p.hits), format::number(p.misses),
             detail::percent(p.hit_ratio()), format::number(p.rejections), format::number(p.evictions),
             format::number(p.bytes_leased), format::number(p.bytes_shelved), format::number(p.peak_bytes)});
    }
    md += t.str();
  }
  return md;
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
