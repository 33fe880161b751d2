// lab::policy_set — a named choice of Queue, Timeout and Priority policies with their configuration, runnable both
// in real time and in simulation, and the registry the lab picks policy sets from by name.
//
// Registering your own takes one line (see examples/lab/time_your_policy.cpp):
//
//   lab::policy_registry registry = lab::builtin_policy_sets();         // the six power profiles and more
//   batcher_config<my_policy, priority::strict_levels<3>> cfg;        // your policy, your knobs
//   registry.add(lab::make_policy_set<my_policy>("mine", cfg, "my window rule"));
#pragma once

#include <powerbatch/batcher_config.hpp>
#include <powerbatch/lab/real_run.hpp>
#include <powerbatch/lab/simulate.hpp>
#include <powerbatch/priority/levels.hpp>
#include <powerbatch/queue/moodycamel.hpp>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

struct policy_set {
  std::string name;
  std::string description;
  std::function<run_result(arrival_source&, const simulation_settings&)> simulate;
  std::function<run_result(arrival_source&, const real_time_settings&)> run;
};

// A simulation must not read the machine's sensors (it would not be repeatable, and virtual time is not the
// sensors' time): policies with an `env` (the power profiles) get none there, i.e. nominal temperature, mains.
template <class Params>
Params for_simulation(Params params) {
  if constexpr (requires { params.env = nullptr; }) params.env = nullptr;
  return params;
}

// Both modes over the same policy types and configuration.
template <class Timeout, class Priority = priority::strict_levels<3>, class Queue = queue::moodycamel>
policy_set make_policy_set(std::string name, batcher_config<Timeout, Priority> config = {},
                           std::string description = {}) {
  policy_set set;
  set.name = name;
  set.description = std::move(description);
  set.simulate = [name, config](arrival_source& source, const simulation_settings& settings) {
    batcher_config<Timeout, Priority> sim_config = config;
    sim_config.timeout = for_simulation(config.timeout);
    run_result r = lab::simulate<Queue, Timeout, Priority>(source, sim_config, settings);
    r.profile = name;
    return r;
  };
  set.run = [name, config](arrival_source& source, const real_time_settings& settings) {
    run_result r = run_real_time<Queue, Timeout, Priority>(source, config, settings);
    r.profile = name;
    return r;
  };
  return set;
}

class policy_registry {
 public:
  void add(policy_set set) {
    const std::string name = set.name;
    if (!sets_.count(name)) order_.push_back(name);
    sets_[name] = std::move(set);
  }
  bool contains(const std::string& name) const { return sets_.count(name) != 0; }
  const policy_set& get(const std::string& name) const {
    const auto it = sets_.find(name);
    if (it == sets_.end()) throw input_error("unknown profile '" + name + "' (valid: " + names() + ")");
    return it->second;
  }
  // Registration order.
  const std::vector<std::string>& ordered_names() const noexcept { return order_; }
  std::string names() const {
    std::string list;
    for (const auto& name : order_) list += list.empty() ? name : ", " + name;
    return list;
  }
  // Parses a comma-separated list ("all" = every registered set), checking every name.
  std::vector<std::string> select(const std::string& list) const {
    if (list == "all") return order_;
    std::vector<std::string> chosen;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      const std::string name(trace_detail::trim(std::string_view(list).substr(start, comma - start)));
      start = comma + 1;
      if (name.empty()) continue;
      (void)get(name);
      chosen.push_back(name);
    }
    if (chosen.empty()) throw input_error("no profile given (valid: " + names() + ", or all)");
    return chosen;
  }

 private:
  std::map<std::string, policy_set> sets_;
  std::vector<std::string> order_;
};

}  // namespace lab
POWERBATCH_END_NAMESPACE
