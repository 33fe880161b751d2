// metrics::html_report — seed 001's power-efficiency report as one self-contained HTML file: inline CSS and inline
// SVG charts, no script, no external resource, so it opens in any browser with no network.
//
// Four charts, each a <figure class="chart"> holding inline SVG, one series (colour) per profile:
//   #chart-latency        end-to-end latency p50 / p90 / p99 / p99.9 (log scale when they spread widely)
//   #chart-batch-size     share of batches per batch-size range
//   #chart-flush-reasons  share of batches per flush reason
//   #chart-power          wake-ups per request, and energy per request when given
// followed by the same figures as tables (summary, latency, rejections, power, buffer pool).
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/format.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/report_options.hpp>
#include <powerbatch/metrics/result.hpp>
#include <powerbatch/metrics/svg_chart.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

namespace detail {

inline std::string series_name(const profile_result& r, std::size_t index) {
  return r.name.empty() ? "run " + std::to_string(index + 1) : r.name;
}

inline std::string html_percent(double v) { return format::fixed(v, 1) + " %"; }

inline std::string html_optional(const std::optional<double>& v, int decimals) {
  return v ? format::fixed(*v, decimals) : std::string("&mdash;");
}

inline void html_figure(std::string& html, std::string_view id, std::string_view caption, const std::string& body) {
  html += "<figure class=\"chart\" id=\"";
  html += id;
  html += "\"><figcaption>";
  html += format::html(caption);
  html += "</figcaption>";
  html += body;
  html += "</figure>\n";
}

inline void html_table_row(std::string& html, const std::vector<std::string>& cells, bool header = false) {
  html += "<tr>";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    html += header ? "<th>" : (i == 0 ? "<th scope=\"row\">" : "<td>");
    html += cells[i];  // already escaped
    html += header || i == 0 ? "</th>" : "</td>";
  }
  html += "</tr>\n";
}

}  // namespace detail

inline std::string html_report(std::span<const profile_result> results, const report_options& options = {}) {
  using detail::series_name;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < results.size(); ++i) names.push_back(series_name(results[i], i));

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      format::html(options.title) +
      "</title>\n<style>\n"
      "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\n"
      "h1{margin-bottom:.2em}.generated{color:#666}\n"
      ".charts{display:flex;flex-wrap:wrap;gap:1.5em}\n"
      "figure.chart{margin:0;border:1px solid #ddd;border-radius:6px;padding:.6em;background:#fff}\n"
      "figure.chart figcaption{font-weight:600;margin-bottom:.3em}\n"
      "svg.chart-svg{display:block;max-width:100%;height:auto}\n"
      ".panels{display:flex;flex-wrap:wrap;gap:.5em}\n"
      "section{overflow-x:auto}\ntable{border-collapse:collapse;margin:.5em 0 1.5em}\n"
      "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\n"
      "th[scope=row],thead th:first-child{text-align:left}\nthead th{background:#f3f3f3}\n"
      ".note{color:#555;font-size:.92em}\n"
      "</style>\n</head>\n<body>\n<header><h1>" +
      format::html(options.title) + "</h1>\n";
  if (!options.generated.empty()) html += "<p class=\"generated\">" + format::html(options.generated) + "</p>\n";
  if (!options.description.empty()) html += "<p>" + format::html(options.description) + "</p>\n";
  html += "</header>\n<section class=\"charts\" id=\"charts\">\n";

  // 1. Latency percentiles.
  {
    bar_chart chart;
    chart.width = 560;  // two charts side by side on a wide screen
    chart.title = "End-to-end latency percentiles per profile";
    chart.y_label = "latency";
    for (const percentile_point& p : reported_percentiles) chart.categories.push_back(p.label);
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
      chart_series s{names[i], {}};
      for (const percentile_point& p : reported_percentiles) {
        const histogram_snapshot& h = results[i].metrics.latency;
        const double v = h.empty() ? std::nan("") : h.percentile(p.q);
        s.values.push_back(v);
        if (v > 0) {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
      }
      chart.series.push_back(std::move(s));
    }
    chart.log_scale = hi > 0 && hi / lo > 20;  // p99.9 far above p50: a linear axis would hide the low ones
    chart.format_value = [](double ns) { return format::duration_ns(ns); };
    detail::html_figure(html, "chart-latency", "End-to-end latency percentiles", render_svg(chart));
  }

  // 2. Batch-size histogram, as shares so that profiles with different request counts compare.
  {
    bar_chart chart;
    chart.width = 560;  // two charts side by side on a wide screen
    chart.title = "Share of batches per batch-size range, per profile";
    chart.y_label = "share of batches (%)";
    const std::vector<batch_size_bin> bins = batch_size_bins(results);
    for (const batch_size_bin& b : bins) chart.categories.push_back(b.label());
    for (std::size_t i = 0; i < results.size(); ++i) {
      chart_series s{names[i], {}};
      for (const batch_size_bin& b : bins)
        s.values.push_back(100.0 * share(batches_in(results[i].metrics.batch_size, b), results[i].metrics.batches));
      chart.series.push_back(std::move(s));
    }
    chart.format_value = [](double v) { return detail::html_percent(v); };
    detail::html_figure(html, "chart-batch-size", "Batch sizes (requests per batch)", render_svg(chart));
  }

  // 3. Flush reasons.
  {
    bar_chart chart;
    chart.width = 560;  // two charts side by side on a wide screen
    chart.title = "Share of batches per flush reason, per profile";
    chart.y_label = "share of batches (%)";
    for (std::size_t k = 0; k < flush_reason_count; ++k)
      chart.categories.push_back(to_string(static_cast<flush_reason>(k)));
    for (std::size_t i = 0; i < results.size(); ++i) {
      chart_series s{names[i], {}};
      const metrics_snapshot& m = results[i].metrics;
      for (std::size_t k = 0; k < flush_reason_count; ++k)
        s.values.push_back(100.0 * share(m.flushes_by_reason[k], m.batches));
      chart.series.push_back(std::move(s));
    }
    chart.format_value = [](double v) { return detail::html_percent(v); };
    detail::html_figure(html, "chart-flush-reasons", "Why batches were flushed", render_svg(chart));
  }

  // 4. Wake-ups and energy per request: two panels, since their units differ.
  {
    bar_chart wakeups;
    wakeups.title = "CPU wake-ups per request, per profile";
    wakeups.y_label = "wake-ups / request";
    wakeups.categories = {"wake-ups per request"};
    wakeups.width = 440;
    wakeups.format_value = [](double v) { return format::fixed(v, 3); };
    bar_chart energy = wakeups;
    energy.title = "Energy per request, per profile";
    energy.y_label = "mJ / request";
    energy.categories = {"energy per request"};
    energy.format_value = [](double v) { return format::fixed(v, 4); };
    bool any_energy = false;
    for (std::size_t i = 0; i < results.size(); ++i) {
      wakeups.series.push_back({names[i], {results[i].wakeups_per_request()}});
      const auto& p = results[i].power;
      const bool has_energy = p && p->energy_mj_per_request;
      any_energy = any_energy || has_energy;
      std::string label = names[i];
      if (has_energy && !p->energy_source.empty()) label += " (" + p->energy_source + ")";
      energy.series.push_back({label, {has_energy ? *p->energy_mj_per_request : std::nan("")}});
    }
    std::string body = "<div class=\"panels\">" + render_svg(wakeups);
    body += any_energy ? render_svg(energy)
                       : std::string("<p class=\"note\">No energy figures were given for these runs.</p>");
    body += "</div>";
    detail::html_figure(html, "chart-power", "Wake-ups and energy per request", body);
  }
  html += "</section>\n";

  // Tables: the same figures, exact.
  html += "<section id=\"summary\"><h2>Summary</h2>\n<table>\n<thead>";
  {
    std::vector<std::string> header{"profile", "requests", "batches", "mean batch"};
    for (const percentile_point& p : reported_percentiles) header.push_back(std::string(p.label) + " latency");
    for (const char* h : {"wake-ups / request", "energy / request (mJ)", "energy source", "average power (mW)",
                          "battery impact (%/h)", "throughput (req/s)", "rejected", "backend failed"})
      header.push_back(h);
    detail::html_table_row(html, header, true);
    html += "</thead>\n<tbody>\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const profile_result& r = results[i];
      const power_figures none{};
      const power_figures& p = r.power ? *r.power : none;
      std::vector<std::string> row{format::html(names[i]), format::number(r.metrics.requests),
                                   format::number(r.metrics.batches), format::fixed(r.metrics.mean_batch_size(), 2)};
      for (const percentile_point& q : reported_percentiles)
        row.push_back(format::html(format::duration_ns(r.metrics.latency.percentile(q.q))));
      row.push_back(format::fixed(r.wakeups_per_request(), 3));
      row.push_back(detail::html_optional(p.energy_mj_per_request, 4));
      row.push_back(p.energy_source.empty() ? std::string("&mdash;") : format::html(p.energy_source));
      row.push_back(detail::html_optional(p.average_power_mw, 1));
      row.push_back(detail::html_optional(p.battery_percent_per_hour, 2));
      row.push_back(detail::html_optional(r.throughput_per_second(), 0));
      row.push_back(format::number(r.metrics.rejected()));
      row.push_back(format::number(r.metrics.failed_requests));
      detail::html_table_row(html, row);
    }
  }
  html += "</tbody></table></section>\n";

  html += "<section id=\"latency\"><h2>Latency</h2>\n<p class=\"note\">End to end: submission until the batch's "
          "backend call finished. Queue: submission until dispatch. Backend: per batch.</p>\n<table>\n<thead>";
  {
    std::vector<std::string> header{"profile", "measure", "count", "mean"};
    for (const percentile_point& p : reported_percentiles) header.push_back(p.label);
    header.push_back("max");
    detail::html_table_row(html, header, true);
    html += "</thead>\n<tbody>\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const metrics_snapshot& m = results[i].metrics;
      const std::pair<const char*, const histogram_snapshot*> measures[] = {
          {"end to end", &m.latency}, {"queue", &m.queue_time}, {"backend", &m.backend_time}};
      for (const auto& [label, h] : measures) {
        std::vector<std::string> row{format::html(names[i]), label, format::number(h->count),
                                     format::html(format::duration_ns(h->mean()))};
        for (const percentile_point& p : reported_percentiles)
          row.push_back(format::html(format::duration_ns(h->percentile(p.q))));
        row.push_back(format::html(format::duration_ns(static_cast<double>(h->max))));
        detail::html_table_row(html, row);
      }
    }
  }
  html += "</tbody></table></section>\n";

  html += "<section id=\"flushes\"><h2>Flush reasons and rejections</h2>\n<table>\n<thead>";
  {
    std::vector<std::string> header{"profile"};
    for (std::size_t k = 0; k < flush_reason_count; ++k)
      header.push_back(std::string("flushed: ") + to_string(static_cast<flush_reason>(k)));
    for (std::size_t k = 0; k < rejection_slot_count; ++k) header.push_back(std::string("rejected: ") + rejection_label(k));
    detail::html_table_row(html, header, true);
    html += "</thead>\n<tbody>\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const metrics_snapshot& m = results[i].metrics;
      std::vector<std::string> row{format::html(names[i])};
      for (std::size_t k = 0; k < flush_reason_count; ++k) row.push_back(format::number(m.flushes_by_reason[k]));
      for (std::size_t k = 0; k < rejection_slot_count; ++k) row.push_back(format::number(m.rejections_by_reason[k]));
      detail::html_table_row(html, row);
    }
  }
  html += "</tbody></table></section>\n";

  bool any_pool = false;
  for (const profile_result& r : results) any_pool = any_pool || r.pool.has_value();
  if (any_pool) {
    html += "<section id=\"pool\"><h2>Buffer pool</h2>\n<table>\n<thead>";
    detail::html_table_row(html, {"profile", "hits", "misses", "hit ratio", "rejections", "evictions",
                                  "bytes leased", "bytes shelved", "peak bytes"}, true);
    html += "</thead>\n<tbody>\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (!results[i].pool) continue;
      const pool_figures& p = *results[i].pool;
      detail::html_table_row(html, {format::html(names[i]), format::number(p.hits), format::number(p.misses),
                                    detail::html_percent(100.0 * p.hit_ratio()), format::number(p.rejections),
                                    format::number(p.evictions), format::number(p.bytes_leased),
                                    format::number(p.bytes_shelved), format::number(p.peak_bytes)});
    }
    html += "</tbody></table></section>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
