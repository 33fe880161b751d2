// The batcher's numeric knobs, one struct (moodycamel-traits style) rather than many template arguments.
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/request_options.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE

template <class Timeout, class Priority>
struct batcher_config {
  // Requests admitted and not yet dispatched (queued or waiting); one more is refused with errc::queue_full.
  std::size_t queue_capacity = 4096;
  // Batches running at once; further batches wait on the dispatcher (backpressure towards the queue).
  std::size_t max_in_flight = 2;
  // Requests at urgent_priority or more urgent flush their batch at once (seed 000); false disables this.
  bool high_priority_flushes = true;
  priority_level urgent_priority = priority_levels::high;

  typename Timeout::params timeout{};
  typename Priority::params priority{};
};

POWERBATCH_END_NAMESPACE
