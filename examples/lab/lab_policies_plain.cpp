// powerbatch-lab's plain Timeout policies: size_or_delay, latency_target, aimd.
#include "lab_registries.hpp"

#include <powerbatch/lab/builtin_policies.hpp>

void register_timeout_policies(powerbatch::lab::policy_registry& registry) {
  powerbatch::lab::add_timeout_policy_sets(registry);
}
