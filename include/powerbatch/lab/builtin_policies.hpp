// lab::builtin_policy_sets — the policy sets the lab knows by name: the six power profiles over
// timeout::size_or_delay (max_performance, balanced, power_saver, ultra_efficient, thermal_aware, custom) and the
// plain Timeout policies (size_or_delay, latency_target, aimd), all with strict_levels<3> priorities and the
// moodycamel queue. Every one is instantiated twice (real time and simulation), so include this in one TU only.
#pragma once

#include <powerbatch/lab/policy_set.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/timeout/aimd.hpp>
#include <powerbatch/timeout/latency_target.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

// The inner policy the power profiles govern: batches of up to 32, a 1 ms window (size_or_delay's defaults).
using profile_inner_policy = timeout::size_or_delay;

template <class Profile>
void add_power_profile(policy_registry& registry, std::string description) {
  using policy = power::governed<profile_inner_policy, Profile>;
  registry.add(make_policy_set<policy>(std::string(Profile::name), batcher_config<policy, priority::strict_levels<3>>{},
                                       std::move(description)));
}

// The six power profiles (a program may call this and add_timeout_policy_sets from different TUs to compile faster).
inline void add_power_profile_sets(policy_registry& registry) {
  add_power_profile<power::profile::max_performance>(registry, "size_or_delay(32, 1 ms), no wake tolerance");
  add_power_profile<power::profile::balanced>(registry, "size_or_delay(32, 1 ms) + 100 ms wake tolerance");
  add_power_profile<power::profile::power_saver>(registry, "size_or_delay(32, 1 ms) + 500 ms wake tolerance");
  add_power_profile<power::profile::ultra_efficient>(registry, "size_or_delay(32, 1 ms) + 2 s wake tolerance");
  add_power_profile<power::profile::thermal_aware>(registry, "balanced, reacting earlier and harder to heat");
  add_power_profile<power::profile::custom>(registry, "governor with no tolerance and no reactions");
}

// The plain Timeout policies, ungoverned.
inline void add_timeout_policy_sets(policy_registry& registry) {
  registry.add(make_policy_set<timeout::size_or_delay>("size_or_delay", {}, "flush at 32 requests or after 1 ms"));
  registry.add(make_policy_set<timeout::latency_target>(
      "latency_target", {}, "largest batch that meets a 10 ms target under the fitted t(n) = a*n + b"));
  registry.add(make_policy_set<timeout::aimd>("aimd", {}, "Clipper's additive-increase/multiplicative-decrease"));
}

inline policy_registry builtin_policy_sets() {
  policy_registry registry;
  add_power_profile_sets(registry);
  add_timeout_policy_sets(registry);
  return registry;
}

}  // namespace lab
POWERBATCH_END_NAMESPACE
