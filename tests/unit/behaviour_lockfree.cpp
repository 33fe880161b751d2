// Behaviour suite over the lock-free queues: Boost.Lockfree, moodycamel and sharded_ring, the last also with grouped
// admission (per-group credits; arrival order from the CPU counter where this machine trusts it).
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

using namespace pbtest;

using lockfree_combos =
    decltype(std::tuple_cat(combos_over<pb::queue::boost_lockfree, pb::queue::moodycamel, pb::queue::sharded_ring<>>{},
                            with_every_priority<pb::queue::sharded_ring<>, pb::admission_mode::grouped>{}));

#define BEHAVIOUR_TYPES lockfree_combos
#define BEHAVIOUR_PREFIX "[lock-free queues] "
#include "behaviour_suite.inc"
