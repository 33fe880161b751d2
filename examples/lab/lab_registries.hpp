// The policy sets powerbatch-lab offers, registered from two TUs (each instantiates its Batchers twice: real time
// and simulation), so that they compile in parallel.
#pragma once

#include <powerbatch/lab/policy_set.hpp>

void register_power_profiles(powerbatch::lab::policy_registry& registry);
void register_timeout_policies(powerbatch::lab::policy_registry& registry);
