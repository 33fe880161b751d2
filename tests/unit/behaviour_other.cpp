// Behaviour suite over the mutex+deque and single-producer queues.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

using namespace pbtest;

using other_combos = combos_over<pb::queue::mutex_deque, pb::queue::boost_spsc>;

#define BEHAVIOUR_TYPES other_combos
#define BEHAVIOUR_PREFIX "[mutex and spsc queues] "
#include "behaviour_suite.inc"
