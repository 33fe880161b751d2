// The lab's outputs for several results side by side: a terminal table, the JSON file (--json) and the HTML report
// (--html, rendered by metrics::html_report from the same figures).
//
// JSON: {"mode", "trace", "backend", "seed", "cost_model", "results": [ one object per policy set ]}, each result with
// profile, requests, completed, rejected, failed, p50_ms, p90_ms, p99_ms, p999_ms, throughput_rps, mean_batch,
// p99_batch, wakeups_per_request, energy_mj_per_request, energy_source, flushes {reason: count}, wall_seconds.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/lab/result.hpp>
#include <powerbatch/metrics/format.hpp>
#include <powerbatch/metrics/html_report.hpp>
#include <powerbatch/metrics/result.hpp>

#include <cstdio>
#include <span>
#include <string>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// What was run, for the headers of every output.
struct scenario {
  std::string mode;     // run or simulate
  std::string trace;    // the trace spec
  std::string backend;  // the model's name
  std::uint64_t seed = 1;
  std::string cost_model;     // "a=..,b=.." used by a simulation (empty for real runs)
  std::string energy_source;  // where the energy constants come from
};

// The metrics layer's view of a result (for its HTML and Markdown reports).
inline metrics::profile_result to_profile_result(const run_result& r, const std::string& energy_source) {
  metrics::profile_result p;
  p.name = r.profile;
  p.metrics.latency = r.latency_ns;
  p.metrics.batch_size = r.batch_sizes;
  p.metrics.batches = r.batches;
  p.metrics.requests = r.completed + r.failed;
  p.metrics.failed_requests = r.failed;
  p.metrics.flushes_by_reason = r.flushes;
  p.metrics.rejections_by_reason = r.rejections;
  p.metrics.dispatcher_runs = r.wakeups;
  p.metrics.thread_wakeups = r.wakeups;
  metrics::power_figures power;
  power.wakeups_per_request = r.wakeups_per_request();
  power.energy_mj_per_request = r.energy_mj_per_request();
  power.energy_source = energy_source;
  p.power = power;
  p.duration_seconds = r.span_seconds;
  return p;
}

// A fixed-width comparison table, one row per policy set.
inline std::string render_table(std::span<const run_result> results) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %9s %9s %9s %9s %9s %10s %7s %6s %8s %9s  %s\n", "profile", "requests",
                "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "req/s", "batch", "b p99", "wake/req", "mJ/req",
                "flushes");
  out += line;
  for (const run_result& r : results) {
    std::string flushes;
    for (std::size_t i = 0; i < flush_reason_count; ++i)
      if (r.flushes[i]) {
        if (!flushes.empty()) flushes += ' ';
        flushes += to_string(static_cast<flush_reason>(i));
        flushes += '=';
        flushes += std::to_string(r.flushes[i]);
      }
    if (r.rejected) {
      flushes += " rejected=";
      flushes += std::to_string(r.rejected);
    }
    std::snprintf(line, sizeof line, "%-16s %9llu %9.3f %9.3f %9.3f %9.3f %10.1f %7.2f %6.0f %8.3f %9.4f  %s\n",
                  r.profile.c_str(), static_cast<unsigned long long>(r.requests), r.p50_ms(), r.p90_ms(), r.p99_ms(),
                  r.p999_ms(), r.throughput_rps(), r.mean_batch(), r.p99_batch(), r.wakeups_per_request(),
                  r.energy_mj_per_request(), flushes.c_str());
    out += line;
  }
  return out;
}

inline std::string render_json(const scenario& s, std::span<const run_result> results) {
  using metrics::format::append_json_string;
  using metrics::format::json_number;
  std::string out = "{\n  \"mode\": ";
  append_json_string(out, s.mode);
  out += ",\n  \"trace\": ";
  append_json_string(out, s.trace);
  out += ",\n  \"backend\": ";
  append_json_string(out, s.backend);
  out += ",\n  \"seed\": " + std::to_string(s.seed) + ",\n  \"cost_model\": ";
  append_json_string(out, s.cost_model);
  out += ",\n  \"results\": [";
  for (std::size_t k = 0; k < results.size(); ++k) {
    const run_result& r = results[k];
    out += k ? ",\n    {" : "\n    {";
    out += "\"profile\": ";
    append_json_string(out, r.profile);
    auto field = [&out](const char* name, const std::string& value) {
      out += ", \"";
      out += name;
      out += "\": " + value;
    };
    field("requests", std::to_string(r.requests));
    field("completed", std::to_string(r.completed));
    field("rejected", std::to_string(r.rejected));
    field("failed", std::to_string(r.failed));
    field("p50_ms", json_number(r.p50_ms()));
    field("p90_ms", json_number(r.p90_ms()));
    field("p99_ms", json_number(r.p99_ms()));
    field("p999_ms", json_number(r.p999_ms()));
    field("throughput_rps", json_number(r.throughput_rps()));
    field("mean_batch", json_number(r.mean_batch()));
    field("p99_batch", json_number(r.p99_batch()));
    field("wakeups_per_request", json_number(r.wakeups_per_request()));
    field("energy_mj_per_request", json_number(r.energy_mj_per_request()));
    out += ", \"energy_source\": ";
    append_json_string(out, s.energy_source);
    out += ", \"flushes\": {";
    for (std::size_t i = 0; i < flush_reason_count; ++i) {
      out += i ? ", \"" : "\"";
      out += to_string(static_cast<flush_reason>(i));
      out += "\": " + std::to_string(r.flushes[i]);
    }
    out += "}";
    field("wall_seconds", json_number(r.wall_seconds));
    out += "}";
  }
  out += "\n  ]\n}\n";
  return out;
}

inline std::string render_html(const scenario& s, std::span<const run_result> results) {
  std::vector<metrics::profile_result> profiles;
  for (const run_result& r : results) profiles.push_back(to_profile_result(r, s.energy_source));
  metrics::report_options options;
  options.title = "powerbatch policy lab: " + std::string(s.mode == "run" ? "real-time run" : "simulation");
  options.description = "Trace " + s.trace + ", backend " + s.backend + ", seed " + std::to_string(s.seed) +
                        (s.cost_model.empty() ? std::string() : ", cost model " + s.cost_model) +
                        ". Wake-ups count dispatcher runs and batch starts; energy per request is " +
                        s.energy_source + ", idle power excluded.";
  return metrics::html_report(profiles, options);
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
