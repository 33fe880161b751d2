// The lab's backends: a type-erased real model (lab::model) that every policy set runs against, the built-in ones
// (noop, spin), and the cost model t(n) = a·n + b that stands in for a model in a simulation.
//
// The lab's requests are lab::item, an index into the inputs a model prepared (digit images, random vectors), so
// one Batcher instantiation per policy set serves every model: the model is chosen at run time by name.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/lab/trace.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// One request: which of the model's prepared inputs to run.
struct item {
  std::uint32_t index = 0;
};

// A real backend chosen by name: runs a batch of items and answers one integer each (a class label, say).
struct model {
  std::string name;
  std::size_t max_batch = 256;  // the largest batch worth sending (the Batcher caps every policy at it)
  std::function<void(std::span<const item>, std::span<std::int32_t>)> run_batch;
};

// The Backend the lab's real-time batchers run: forwards to a model, records each batch's size and busy time.
// Runs on the single compute thread; read its records after the run has finished.
struct measured_backend {
  using input_type = item;
  using output_type = std::int32_t;

  struct records {
    metrics::histogram_snapshot batch_sizes;
    std::chrono::nanoseconds busy{};
  };

  std::shared_ptr<const model> impl;
  records* log = nullptr;

  void run(std::span<item> inputs, std::span<std::int32_t> outputs) {
    const auto started = std::chrono::steady_clock::now();
    impl->run_batch(inputs, outputs);
    log->busy += std::chrono::steady_clock::now() - started;
    log->batch_sizes.record(inputs.size());
  }
  std::size_t max_batch_size() const noexcept { return impl->max_batch; }
};

// ---- cost model ----------------------------------------------------------------------------------------------

// Service time of a batch of n: per_item · n + fixed.
struct cost_model {
  duration per_item{};
  duration fixed{};
  duration operator()(std::size_t n) const noexcept {
    return fixed + per_item * static_cast<duration::rep>(n);
  }
};

// Parses "a=20us,b=200us" (per item, fixed). Throws input_error naming the bad field.
inline cost_model parse_cost_model(std::string_view text) {
  cost_model cost;
  bool have_a = false, have_b = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item_text = trace_detail::trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item_text.empty()) continue;
    const std::size_t eq = item_text.find('=');
    const std::string name(trace_detail::trim(item_text.substr(0, std::min(eq, item_text.size()))));
    if (eq == std::string_view::npos || (name != "a" && name != "b"))
      throw input_error("cost model '" + std::string(text) + "': '" + std::string(item_text) +
                        "' is not a=DURATION (per item) or b=DURATION (fixed)");
    const duration value = parse_duration(item_text.substr(eq + 1), "cost model field " + name);
    (name == "a" ? cost.per_item : cost.fixed) = value;
    (name == "a" ? have_a : have_b) = true;
  }
  if (!have_a || !have_b)
    throw input_error("cost model '" + std::string(text) + "': give both a (per item) and b (fixed), e.g. a=20us,b=200us");
  return cost;
}

// Fits t(n) = a·n + b to a short measurement of the real model: the fastest of `repeats` runs at each of a few batch
// sizes up to max_batch (noise on a busy machine only ever adds time, so the minimum is the model's own cost), then
// least squares on relative error (each size counts alike, not only the large ones). A fraction of a second for the
// built-in models.
inline cost_model fit_cost_model(const model& m, int repeats = 7) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 1; n < m.max_batch && n <= 128; n *= 2) sizes.push_back(n);
  sizes.push_back(std::min<std::size_t>(m.max_batch, 256));
  std::vector<item> inputs(sizes.back());
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i].index = static_cast<std::uint32_t>(i);
  std::vector<std::int32_t> outputs(inputs.size());
  std::vector<double> xs, ys;
  for (std::size_t n : sizes) {
    const std::span<const item> in(inputs.data(), n);
    const std::span<std::int32_t> out(outputs.data(), n);
    m.run_batch(in, out);  // warm up
    double fastest = INFINITY;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      m.run_batch(in, out);
      fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    xs.push_back(static_cast<double>(n));
    ys.push_back(fastest);
  }
  // Weighted least squares, weight 1/y^2.
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double w = ys[i] > 0 ? 1.0 / (ys[i] * ys[i]) : 1.0;
    sw += w;
    sx += w * xs[i];
    sy += w * ys[i];
    sxx += w * xs[i] * xs[i];
    sxy += w * xs[i] * ys[i];
  }
  const double denominator = sw * sxx - sx * sx;
  double a = denominator > 0 ? (sw * sxy - sx * sy) / denominator : 0;
  double b = (sy - a * sx) / sw;
  if (a < 0) a = 0;
  if (b < 0) b = 0;
  auto to_duration = [](double s) { return std::chrono::round<duration>(std::chrono::duration<double>(s)); };
  return cost_model{to_duration(a), to_duration(b)};
}

// ---- built-in models -----------------------------------------------------------------------------------------

// Answers at once: measures the batcher and the lab themselves.
inline model noop_model() {
  return model{"noop", 1024, [](std::span<const item> in, std::span<std::int32_t> out) {
                 for (std::size_t i = 0; i < in.size(); ++i) out[i] = static_cast<std::int32_t>(in[i].index);
               }};
}

// Busy-waits exactly cost(n): a backend whose service time is known, for checking the simulation against real time.
inline model spin_model(cost_model cost, std::size_t max_batch = 256) {
  return model{"spin", max_batch, [cost](std::span<const item> in, std::span<std::int32_t> out) {
                 const auto until = std::chrono::steady_clock::now() + cost(in.size());
                 while (std::chrono::steady_clock::now() < until) {
                 }
                 for (std::size_t i = 0; i < in.size(); ++i) out[i] = static_cast<std::int32_t>(in[i].index);
               }};
}

// Models by name. A factory takes the text after "name:" in --backend (e.g. "spin:a=20us,b=200us"), maybe empty.
class model_registry {
 public:
  using factory = std::function<model(const std::string& arguments)>;

  void add(std::string name, std::string description, factory make) {
    entries_[name] = entry{std::move(description), std::move(make)};
  }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  std::string names() const {
    std::string list;
    for (const auto& [name, e] : entries_) list += list.empty() ? name : ", " + name;
    return list;
  }
  const std::map<std::string, std::string> descriptions() const {
    std::map<std::string, std::string> out;
    for (const auto& [name, e] : entries_) out[name] = e.description;
    return out;
  }
  // "name" or "name:arguments". Throws input_error listing the valid names.
  model make(const std::string& spec) const {
    const std::size_t colon = spec.find(':');
    const std::string name = spec.substr(0, colon);
    const auto it = entries_.find(name);
    if (it == entries_.end()) throw input_error("unknown backend '" + name + "' (valid: " + names() + ")");
    return it->second.make(colon == std::string::npos ? std::string{} : spec.substr(colon + 1));
  }

 private:
  struct entry {
    std::string description;
    factory make;
  };
  std::map<std::string, entry> entries_;
};

// noop and spin; the CLI adds the real models (digits, mlp1024).
inline void add_builtin_models(model_registry& registry) {
  registry.add("noop", "answers at once (measures the batcher itself)", [](const std::string&) { return noop_model(); });
  registry.add("spin", "busy-waits a·n+b per batch; spin:a=20us,b=200us (default)", [](const std::string& args) {
    return spin_model(parse_cost_model(args.empty() ? "a=20us,b=200us" : args));
  });
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
