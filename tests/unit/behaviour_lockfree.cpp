// Behaviour suite over the lock-free queues: Boost.Lockfree, moodycamel and sharded_ring.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

using namespace pbtest;

using lockfree_combos = combos_over<pb::queue::boost_lockfree, pb::queue::moodycamel, pb::queue::sharded_ring<>>;

#define BEHAVIOUR_TYPES lockfree_combos
#define BEHAVIOUR_PREFIX "[lock-free queues] "
#include "behaviour_suite.inc"
