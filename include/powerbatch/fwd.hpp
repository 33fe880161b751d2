// Forward declarations of powerbatch's main templates, for headers that only name them.
#pragma once

#include <powerbatch/config.hpp>

#include <chrono>
#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE

template <class Queue, class Timeout, class Priority, class Backend, class Clock, class Observer>
class Batcher;

struct no_observer;

namespace queue {
struct mutex_deque;
struct boost_lockfree;
struct boost_spsc;
struct moodycamel;
template <std::size_t Shards>
struct sharded_ring;
}  // namespace queue

namespace priority {
struct fifo;
template <std::size_t Levels>
struct strict_levels;
template <std::size_t Levels>
struct aging;
struct earliest_deadline;
}  // namespace priority

namespace timeout {
struct size_or_delay;
struct preferred_sizes;
struct latency_target;
struct aimd;
}  // namespace timeout

POWERBATCH_END_NAMESPACE
