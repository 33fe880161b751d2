// Behaviour suite over the mutex+deque and single-producer queues.
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

using other_combos = std::tuple<
    combo<pb::queue::mutex_deque, pb::priority::fifo>, combo<pb::queue::mutex_deque, pb::priority::strict_levels<3>>,
    combo<pb::queue::mutex_deque, pb::priority::earliest_deadline>, combo<pb::queue::mutex_deque, pb::priority::aging<3>>,
    combo<pb::queue::boost_spsc, pb::priority::fifo>, combo<pb::queue::boost_spsc, pb::priority::strict_levels<3>>,
    combo<pb::queue::boost_spsc, pb::priority::earliest_deadline>, combo<pb::queue::boost_spsc, pb::priority::aging<3>>>;

#define BEHAVIOUR_TYPES other_combos
#define BEHAVIOUR_PREFIX "[mutex and spsc queues] "
#include "behaviour_suite.inc"
