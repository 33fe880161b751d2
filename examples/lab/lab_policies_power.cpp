// powerbatch-lab's power profiles: max_performance, balanced, power_saver, ultra_efficient, thermal_aware, custom.
#include "lab_registries.hpp"

#include <powerbatch/lab/builtin_policies.hpp>

void register_power_profiles(powerbatch::lab::policy_registry& registry) {
  powerbatch::lab::add_power_profile_sets(registry);
}
