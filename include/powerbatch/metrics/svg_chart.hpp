// metrics::bar_chart — a grouped bar chart as inline SVG, with no script and no external resource: one group per
// category, one bar per series (a profile / policy set), a legend, axis ticks, and a tooltip per bar.
//
// Each bar is `<rect class="bar" data-series=".." data-category=".." data-value="..">`, so a test (or a stylesheet)
// can find them. Values that are NaN, or not positive on a log scale, draw no bar.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/format.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

struct chart_series {
  std::string name;
  std::vector<double> values;  // one per category
};

struct bar_chart {
  std::string title;    // the SVG's accessible title
  std::string y_label;  // the value axis, with its unit
  std::vector<std::string> categories;
  std::vector<chart_series> series;
  bool log_scale = false;
  std::string (*format_value)(double) = [](double v) { return format::fixed(v, 2); };
  int width = 720;
  int height = 320;
};

// Colours for series 0, 1, ... (Tableau 10: distinguishable, and readable in print).
inline constexpr const char* chart_palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

namespace detail {

inline double nice_step(double rough) {
  if (!(rough > 0)) return 1.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  const double fraction = rough / magnitude;
  return magnitude * (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10);
}

inline std::string px(double v) { return format::fixed(v, 1); }

}  // namespace detail

inline std::string render_svg(const bar_chart& chart) {
  constexpr double left = 78, right = 16, top = 44, bottom = 46;
  const double w = chart.width, h = chart.height;
  const double plot_w = w - left - right, plot_h = h - top - bottom;
  const double plot_bottom = top + plot_h;

  double largest = 0, smallest_positive = HUGE_VAL;
  for (const chart_series& s : chart.series)
    for (const double v : s.values)
      if (std::isfinite(v)) {
        largest = std::max(largest, v);
        if (v > 0) smallest_positive = std::min(smallest_positive, v);
      }
  const bool log_scale = chart.log_scale && largest > 0;

  // Value -> y, and the ticks of the value axis.
  std::vector<double> ticks;
  double low_exp = 0, high_exp = 1, top_value = 1;
  if (log_scale) {
    low_exp = std::floor(std::log10(smallest_positive));
    high_exp = std::max(low_exp + 1, std::ceil(std::log10(largest)));
    for (double e = low_exp; e <= high_exp; ++e) ticks.push_back(std::pow(10.0, e));
  } else {
    const double step = detail::nice_step(largest > 0 ? largest / 5 : 0.2);
    top_value = std::max(step, std::ceil(largest / step) * step);
    for (double t = 0; t <= top_value * (1 + 1e-9); t += step) ticks.push_back(t);
  }
  const auto y_of = [&](double v) {
    const double fraction =
        log_scale ? (std::log10(v) - low_exp) / (high_exp - low_exp) : (top_value > 0 ? v / top_value : 0);
    return plot_bottom - std::clamp(fraction, 0.0, 1.0) * plot_h;
  };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart-svg\" role=\"img\" viewBox=\"0 0 " +
                    detail::px(w) + " " + detail::px(h) + "\" width=\"" + detail::px(w) + "\" height=\"" +
                    detail::px(h) + "\" font-family=\"sans-serif\" font-size=\"12\">";
  svg += "<title>" + format::html(chart.title) + "</title>";

  // Legend: one swatch per series, laid out left to right and wrapped.
  double lx = left, ly = 14;
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const double item_w = 26 + 7.0 * static_cast<double>(chart.series[s].name.size());
    if (lx + item_w > w - right && lx > left) {
      lx = left;
      ly += 16;
    }
    svg += "<g class=\"legend-item\"><rect x=\"" + detail::px(lx) + "\" y=\"" + detail::px(ly - 9) +
           "\" width=\"12\" height=\"12\" fill=\"" + chart_palette[s % std::size(chart_palette)] + "\"/><text x=\"" +
           detail::px(lx + 16) + "\" y=\"" + detail::px(ly + 1) + "\">" + format::html(chart.series[s].name) +
           "</text></g>";
    lx += item_w;
  }

  // Value axis: gridlines and tick labels.
  svg += "<g class=\"axis y-axis\">";
  for (const double t : ticks) {
    const double y = y_of(t);
    svg += "<line x1=\"" + detail::px(left) + "\" x2=\"" + detail::px(w - right) + "\" y1=\"" + detail::px(y) +
           "\" y2=\"" + detail::px(y) + "\" stroke=\"#ddd\"/><text x=\"" + detail::px(left - 6) + "\" y=\"" +
           detail::px(y + 4) + "\" text-anchor=\"end\">" + format::html(chart.format_value(t)) + "</text>";
  }
  svg += "<text transform=\"translate(14 " + detail::px(top + plot_h / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + format::html(chart.y_label) + "</text></g>";

  // Bars, grouped by category.
  const std::size_t groups = std::max<std::size_t>(1, chart.categories.size());
  const std::size_t per_group = std::max<std::size_t>(1, chart.series.size());
  const double group_w = plot_w / static_cast<double>(groups);
  const double bar_w = group_w * 0.8 / static_cast<double>(per_group);
  svg += "<g class=\"bars\">";
  for (std::size_t g = 0; g < chart.categories.size(); ++g) {
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      if (g >= chart.series[s].values.size()) continue;
      const double v = chart.series[s].values[g];
      if (!std::isfinite(v) || (log_scale && !(v > 0))) continue;
      const double x = left + static_cast<double>(g) * group_w + group_w * 0.1 + static_cast<double>(s) * bar_w;
      const double y = y_of(v);
      svg += "<rect class=\"bar\" data-series=\"" + format::html(chart.series[s].name) + "\" data-category=\"" +
             format::html(chart.categories[g]) + "\" data-value=\"" + format::number(v) + "\" x=\"" +
             detail::px(x) + "\" y=\"" + detail::px(y) + "\" width=\"" + detail::px(std::max(1.0, bar_w - 1)) +
             "\" height=\"" + detail::px(plot_bottom - y) + "\" fill=\"" +
             chart_palette[s % std::size(chart_palette)] + "\"><title>" +
             format::html(chart.series[s].name + " \xC2\xB7 " + chart.categories[g] + ": " + chart.format_value(v)) +
             "</title></rect>";
    }
  }
  svg += "</g>";

  // Category axis.
  svg += "<g class=\"axis x-axis\"><line x1=\"" + detail::px(left) + "\" x2=\"" + detail::px(w - right) +
         "\" y1=\"" + detail::px(plot_bottom) + "\" y2=\"" + detail::px(plot_bottom) + "\" stroke=\"#333\"/>";
  for (std::size_t g = 0; g < chart.categories.size(); ++g)
    svg += "<text x=\"" + detail::px(left + (static_cast<double>(g) + 0.5) * group_w) + "\" y=\"" +
           detail::px(plot_bottom + 18) + "\" text-anchor=\"middle\">" + format::html(chart.categories[g]) + "</text>";
  svg += "</g></svg>";
  return svg;
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
