// The policies a Batcher gets when the user does not choose: the fastest safe queue measured here
// (benchmarks/bench_batcher, figures in README), size-or-delay batching and three strict priority levels.
#pragma once

#include <powerbatch/batcher.hpp>
#include <powerbatch/priority/levels.hpp>
#include <powerbatch/queue/sharded_ring.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

POWERBATCH_BEGIN_NAMESPACE

using default_queue = queue::sharded_ring<>;
using default_timeout = timeout::size_or_delay;
using default_priority = priority::strict_levels<3>;

template <class Backend, class Clock = std::chrono::steady_clock>
using default_batcher = Batcher<default_queue, default_timeout, default_priority, Backend, Clock>;

POWERBATCH_END_NAMESPACE
