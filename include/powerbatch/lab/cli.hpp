// The powerbatch-lab command line, as a library so that tests drive it without a process:
//
//   powerbatch-lab [run|simulate] [--trace SPEC] [--profiles LIST] [--backend NAME] [--json FILE] [--html FILE]
//                  [--no-html] [--seed N] [--cost a=DUR,b=DUR] [--realtime] [--no-progress] [--help]
//
// parse_cli() checks every name before anything runs and throws input_error naming what is wrong (and, for an
// unknown name, listing the valid ones); run_cli() runs each policy set on the trace, one after another, prints the
// side-by-side table and writes the JSON and HTML files.
#pragma once

#include <powerbatch/lab/backend.hpp>
#include <powerbatch/lab/policy_set.hpp>
#include <powerbatch/lab/progress.hpp>
#include <powerbatch/lab/report.hpp>
#include <powerbatch/lab/trace.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// The default scenario: bursty load for about 7 s per policy set, so comparing three takes about 20 s.
inline constexpr const char* default_trace = "bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=7s";
inline constexpr const char* default_profiles = "max_performance,balanced,power_saver";
inline constexpr const char* default_backend = "digits";
inline constexpr const char* default_html = "report.html";

struct cli_options {
  std::string command = "run";  // run (real time) or simulate (virtual time)
  std::string trace = default_trace;
  std::string profiles = default_profiles;
  std::string backend = default_backend;
  std::string json_path;
  std::string html_path = default_html;
  std::uint64_t seed = 1;
  std::string cost;  // simulate: the cost model; empty = fit it from a short measurement of the backend
  bool progress = true;
  bool realtime = false;  // run: real-time priority for the lab's threads
  bool help = false;
};

inline std::string usage(const policy_registry& policies, const model_registry& models) {
  std::string text =
      "usage: powerbatch-lab [run|simulate] [options]\n"
      "\n"
      "Replays a request trace against several batching policy sets and compares them side by side.\n"
      "  run       real time, real backend (default)\n"
      "  simulate  virtual time: the same policy code on a discrete-event simulation, the backend replaced by\n"
      "            its cost model t(n) = a*n + b (fitted from a short measurement of the backend, or --cost)\n"
      "\n"
      "options:\n"
      "  --trace SPEC      the load (default: " + std::string(default_trace) + ")\n"
      "  --profiles LIST   comma-separated policy sets, or all (default: " + default_profiles + ")\n"
      "  --backend NAME    the model (default: " + default_backend + ")\n"
      "  --json FILE       write the results as JSON\n"
      "  --html FILE       write the HTML report (default: " + default_html + "); --no-html to skip\n"
      "  --seed N          seed of the generated traces (default: 1)\n"
      "  --cost a=D,b=D    simulate: the backend's cost per request (a) and per batch (b), e.g. a=20us,b=200us\n"
      "  --realtime        run: the lab's threads at real-time priority (SCHED_FIFO; needs root or CAP_SYS_NICE)\n"
      "  --no-progress     no progress bar or progress lines\n"
      "  --help            this text\n"
      "\n"
      "trace SPEC: KIND:field=value,...  (rates in requests/s; durations 500us, 20ms, 2.5s, 10m, 24h)\n";
  for (const auto& [kind, fields] : trace_spec::kinds()) {
    text += "  " + kind + ":";
    if (kind == "csv") {
      text += "FILE   columns arrival_s,priority,key,deadline_ms (header and # comments allowed)";
    } else {
      bool first = true;
      for (const auto& [field, value] : fields) {
        if (!first) text += ',';
        text += field;
        text += '=';
        text += value;
        first = false;
      }
    }
    text += "\n";
  }
  text += "  every generated kind also takes deadline=DUR (per request), keys=N (batching keys), urgent=F (share "
          "at high priority)\n\nprofiles:\n";
  for (const auto& name : policies.ordered_names()) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-16s %s\n", name.c_str(), policies.get(name).description.c_str());
    text += line;
  }
  text += "\nbackends:\n";
  for (const auto& [name, description] : models.descriptions()) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-16s %s\n", name.c_str(), description.c_str());
    text += line;
  }
  return text;
}

// Parses and checks the arguments (argv without the program name). Throws input_error.
inline cli_options parse_cli(std::span<const std::string> args, const policy_registry& policies,
                             const model_registry& models) {
  cli_options o;
  std::size_t i = 0;
  if (i < args.size() && !args[i].starts_with("-")) {
    o.command = args[i++];
    if (o.command != "run" && o.command != "simulate")
      throw input_error("unknown command '" + o.command + "' (valid: run, simulate)");
  }
  auto value_of = [&](const std::string& option) -> std::string {
    if (i + 1 >= args.size()) throw input_error("option " + option + " needs a value (see --help)");
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") o.help = true;
    else if (a == "--trace") o.trace = value_of(a);
    else if (a == "--profiles") o.profiles = value_of(a);
    else if (a == "--backend") o.backend = value_of(a);
    else if (a == "--json") o.json_path = value_of(a);
    else if (a == "--html") o.html_path = value_of(a);
    else if (a == "--no-html") o.html_path.clear();
    else if (a == "--cost") o.cost = value_of(a);
    else if (a == "--no-progress") o.progress = false;
    else if (a == "--realtime") o.realtime = true;
    else if (a == "--seed") {
      const std::string text = value_of(a);
      if (!trace_detail::parse_integer(text, o.seed)) throw input_error("--seed: '" + text + "' is not an integer");
    } else {
      throw input_error("unknown option '" + a +
                        "' (valid: --trace, --profiles, --backend, --json, --html, --no-html, --seed, --cost, "
                        "--realtime, --no-progress, --help)");
    }
  }
  if (o.help) return o;
  (void)parse_trace_spec(o.trace);
  (void)policies.select(o.profiles);
  if (!models.contains(o.backend.substr(0, o.backend.find(':'))))
    throw input_error("unknown backend '" + o.backend.substr(0, o.backend.find(':')) + "' (valid: " + models.names() +
                      ")");
  if (!o.cost.empty()) {
    if (o.command != "simulate") throw input_error("--cost applies to simulate only (run measures the backend)");
    (void)parse_cost_model(o.cost);
  }
  return o;
}

inline std::string describe(const cost_model& c) {
  char text[96];
  std::snprintf(text, sizeof text, "a=%.2fus,b=%.2fus", std::chrono::duration<double, std::micro>(c.per_item).count(),
                std::chrono::duration<double, std::micro>(c.fixed).count());
  return text;
}

// Runs the policy sets and writes the outputs; returns the results. Throws input_error (e.g. an unreadable trace).
inline std::vector<run_result> run_cli(const cli_options& o, const policy_registry& policies,
                                       const model_registry& models, std::FILE* out) {
  const trace_spec spec = parse_trace_spec(o.trace);
  const std::vector<std::string> chosen = policies.select(o.profiles);
  auto backend = std::make_shared<const model>(models.make(o.backend));
  scenario s{o.command, o.trace, backend->name, o.seed, {}, std::string(power::platform_energy_model().source)};

  simulation_settings sim;
  real_time_settings real;
  real.backend = backend;
  real.realtime_priority = o.realtime;
  if (o.command == "simulate") {
    sim.cost = o.cost.empty() ? fit_cost_model(*backend) : parse_cost_model(o.cost);
    sim.max_batch = backend->max_batch;
    s.cost_model = describe(sim.cost) + (o.cost.empty() ? " (fitted)" : " (given)");
  }
  std::fprintf(out, "powerbatch-lab %s: trace %s, backend %s%s%s\n", o.command.c_str(), o.trace.c_str(),
               backend->name.c_str(), s.cost_model.empty() ? "" : ", cost model ", s.cost_model.c_str());
  progress_reporter progress(out, o.progress, is_terminal(out));
  std::vector<run_result> results;
  for (const std::string& name : chosen) {
    const policy_set& set = policies.get(name);
    auto source = make_source(spec, o.seed);
    progress.begin(name);
    sim.progress = real.progress = [&progress](double f) { progress.update(f); };
    results.push_back(o.command == "simulate" ? set.simulate(*source, sim) : set.run(*source, real));
    char summary[128];
    std::snprintf(summary, sizeof summary, "%llu requests in %.1f s", 
                  static_cast<unsigned long long>(results.back().requests), results.back().wall_seconds);
    progress.end(summary);
  }
  std::fprintf(out, "\n%s", render_table(results).c_str());
  auto write = [out](const std::string& path, const std::string& text, const char* what) {
    std::ofstream file(path, std::ios::binary);
    if (!file || !file.write(text.data(), static_cast<std::streamsize>(text.size())))
      throw input_error(std::string(what) + " file '" + path + "' cannot be written");
    std::fprintf(out, "wrote %s\n", path.c_str());
  };
  if (!o.json_path.empty()) write(o.json_path, render_json(s, results), "--json");
  if (!o.html_path.empty()) write(o.html_path, render_html(s, results), "--html");
  return results;
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
