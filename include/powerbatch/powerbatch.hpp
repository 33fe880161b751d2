// powerbatch — the umbrella header: everything a service needs to batch inference requests.
#pragma once

#include <powerbatch/backend/function.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/clock.hpp>
#include <powerbatch/defaults.hpp>
#include <powerbatch/error.hpp>
#include <powerbatch/priority/earliest_deadline.hpp>
#include <powerbatch/priority/fifo.hpp>
#include <powerbatch/priority/levels.hpp>
#include <powerbatch/queue/boost_lockfree.hpp>
#include <powerbatch/queue/boost_spsc.hpp>
#include <powerbatch/queue/moodycamel.hpp>
#include <powerbatch/queue/mutex_deque.hpp>
#include <powerbatch/queue/sharded_ring.hpp>
#include <powerbatch/request_options.hpp>
#include <powerbatch/runner.hpp>
#include <powerbatch/stats.hpp>
#include <powerbatch/timeout/aimd.hpp>
#include <powerbatch/timeout/latency_target.hpp>
#include <powerbatch/timeout/preferred_sizes.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>
