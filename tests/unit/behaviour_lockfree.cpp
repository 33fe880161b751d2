// Behaviour suite over the Boost.Lockfree and moodycamel queues.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

using namespace pbtest;

template <class Q, class P>
struct combo {
  using queue = Q;
  using priority = P;
};

using lockfree_combos = std::tuple<
    combo<pb::queue::boost_lockfree, pb::priority::fifo>, combo<pb::queue::boost_lockfree, pb::priority::strict_levels<3>>,
    combo<pb::queue::boost_lockfree, pb::priority::earliest_deadline>, combo<pb::queue::boost_lockfree, pb::priority::aging<3>>,
    combo<pb::queue::moodycamel, pb::priority::fifo>, combo<pb::queue::moodycamel, pb::priority::strict_levels<3>>,
    combo<pb::queue::moodycamel, pb::priority::earliest_deadline>, combo<pb::queue::moodycamel, pb::priority::aging<3>>>;

#define BEHAVIOUR_TYPES lockfree_combos
#define BEHAVIOUR_PREFIX "[lock-free queues] "
#include "behaviour_suite.inc"
