// lab::sim_clock — the virtual clock of the lab's discrete-event simulation, and the Asio timer service for it.
//
// The simulation runs the real Batcher with Clock = sim_clock. Its timer (basic_waitable_timer<sim_clock>) must not
// go through the operating system: Asio's stock timer service arms a timerfd and runs epoll on every poll, a system
// call each, which would dominate a simulation of millions of requests. So timers on sim_clock use the service
// below instead (a specialization of Asio's timer service for sim_clock, written against Boost 1.81's interface):
// a wait is kept in an ordered map, the simulation asks next_expiry() to know when to move virtual time, and
// fire_due() posts the due handlers to their executors, exactly as Asio would. With no timerfd or socket, the
// io_context never creates a reactor, so polling it makes no system call.
//
// Process-wide and single-threaded: one simulation runs at a time (the lab runs policy sets one after another).
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/wait_traits.hpp>
#include <boost/asio/detail/chrono_time_traits.hpp>
#include <boost/asio/detail/deadline_timer_service.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <utility>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

struct sim_clock {
  using rep = std::chrono::steady_clock::rep;
  using period = std::chrono::steady_clock::period;
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;
  // Virtual: no thread sleeps or wakes on this time (what a batcher measuring thread wake-ups could skip).
  static constexpr bool is_virtual = true;

  static time_point now() noexcept { return time_point(duration(ticks_)); }
  static void set(time_point t) noexcept { ticks_ = t.time_since_epoch().count(); }
  static void advance(duration d) noexcept { ticks_ += d.count(); }

 private:
  inline static rep ticks_ = std::chrono::duration_cast<duration>(std::chrono::hours(1)).count();
};

}  // namespace lab
POWERBATCH_END_NAMESPACE

// A timer on virtual time never sleeps for real.
template <>
struct boost::asio::wait_traits<powerbatch::lab::sim_clock> {
  using clock = powerbatch::lab::sim_clock;
  static clock::duration to_wait_duration(const clock::duration&) { return clock::duration::zero(); }
  static clock::duration to_wait_duration(const clock::time_point&) { return clock::duration::zero(); }
};

namespace boost::asio::detail {

// The timer service of basic_waitable_timer<sim_clock>: waits live in an ordered map until the simulation fires them.
template <>
class deadline_timer_service<chrono_time_traits<powerbatch::lab::sim_clock, wait_traits<powerbatch::lab::sim_clock>>>
    : public execution_context_service_base<deadline_timer_service<
          chrono_time_traits<powerbatch::lab::sim_clock, wait_traits<powerbatch::lab::sim_clock>>>> {
  using clock = powerbatch::lab::sim_clock;
  using handler_type = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  struct pending_wait {
    handler_type handler;
    any_io_executor executor;
  };
  using key = std::pair<clock::time_point, std::uint64_t>;  // expiry, then order of arming

 public:
  using time_type = clock::time_point;
  using duration_type = clock::duration;

  struct implementation_type : private boost::asio::detail::noncopyable {
    time_type expiry{};
    std::multimap<key, pending_wait>::size_type waits = 0;
    std::uint64_t id = 0;  // identifies this timer's waits in the map
  };

  explicit deadline_timer_service(execution_context& context)
      : execution_context_service_base<deadline_timer_service>(context) {}

  void shutdown() override { waits_.clear(); }

  // ---- what the simulation uses ----
  // The earliest expiry of a pending wait (time_point::max() if none).
  time_type next_expiry() const noexcept { return waits_.empty() ? time_type::max() : waits_.begin()->first.first; }
  // Completes every wait due at clock::now() with success (posted to the wait's executor, as Asio does).
  std::size_t fire_due() {
    std::size_t fired = 0;
    while (!waits_.empty() && waits_.begin()->first.first <= clock::now()) {
      auto node = waits_.extract(waits_.begin());
      if (auto* impl = owner_of(node.key().second)) --impl->waits;
      complete(node.mapped(), boost::system::error_code());
      ++fired;
    }
    return fired;
  }

  // ---- the interface basic_waitable_timer uses ----
  void construct(implementation_type& impl) {
    impl.expiry = time_type();
    impl.waits = 0;
    impl.id = ++next_id_;
    owners_[impl.id] = &impl;
  }
  void destroy(implementation_type& impl) {
    boost::system::error_code ec;
    cancel(impl, ec);
    owners_.erase(impl.id);
  }
  void move_construct(implementation_type& impl, implementation_type& other) {
    impl.expiry = other.expiry;
    impl.waits = other.waits;
    impl.id = other.id;
    owners_[impl.id] = &impl;
    other.waits = 0;
    other.id = ++next_id_;
    owners_[other.id] = &other;
  }
  void move_assign(implementation_type& impl, deadline_timer_service&, implementation_type& other) {
    destroy(impl);
    move_construct(impl, other);
  }
  void converting_move_construct(implementation_type& impl, deadline_timer_service&, implementation_type& other) {
    move_construct(impl, other);
  }
  void converting_move_assign(implementation_type& impl, deadline_timer_service& s, implementation_type& other) {
    move_assign(impl, s, other);
  }

  std::size_t cancel(implementation_type& impl, boost::system::error_code& ec) {
    ec = boost::system::error_code();
    std::size_t count = 0;
    for (auto it = waits_.begin(); impl.waits > 0 && it != waits_.end();) {
      if (it->first.second != impl.id) {
        ++it;
        continue;
      }
      auto node = waits_.extract(it++);
      --impl.waits;
      complete(node.mapped(), boost::asio::error::operation_aborted);
      ++count;
    }
    return count;
  }
  std::size_t cancel_one(implementation_type& impl, boost::system::error_code& ec) {
    ec = boost::system::error_code();
    for (auto it = waits_.begin(); impl.waits > 0 && it != waits_.end(); ++it) {
      if (it->first.second != impl.id) continue;
      auto node = waits_.extract(it);
      --impl.waits;
      complete(node.mapped(), boost::asio::error::operation_aborted);
      return 1;
    }
    return 0;
  }

  time_type expiry(const implementation_type& impl) const { return impl.expiry; }
  time_type expires_at(const implementation_type& impl) const { return impl.expiry; }
  duration_type expires_from_now(const implementation_type& impl) const { return impl.expiry - clock::now(); }
  std::size_t expires_at(implementation_type& impl, const time_type& expiry, boost::system::error_code& ec) {
    const std::size_t count = cancel(impl, ec);
    impl.expiry = expiry;
    return count;
  }
  std::size_t expires_after(implementation_type& impl, const duration_type& d, boost::system::error_code& ec) {
    return expires_at(impl, clock::now() + d, ec);
  }
  std::size_t expires_from_now(implementation_type& impl, const duration_type& d, boost::system::error_code& ec) {
    return expires_at(impl, clock::now() + d, ec);
  }

  // A blocking wait on virtual time could never end: nothing else moves the clock.
  void wait(implementation_type& impl, boost::system::error_code& ec) {
    if (clock::now() < impl.expiry)
      throw std::logic_error("a blocking wait on lab::sim_clock cannot end: only the simulation moves its time");
    ec = boost::system::error_code();
  }

  template <typename Handler, typename IoExecutor>
  void async_wait(implementation_type& impl, Handler& handler, const IoExecutor& io_ex) {
    // Per-operation cancellation is not needed by the batcher (it cancels through the timer); refuse it loudly.
    if (boost::asio::get_associated_cancellation_slot(handler).is_connected())
      throw std::logic_error("lab::sim_clock timers do not support per-operation cancellation slots");
    waits_.emplace(key{impl.expiry, impl.id},
                   pending_wait{handler_type(std::move(handler)), any_io_executor(io_ex)});
    ++impl.waits;
  }

 private:
  implementation_type* owner_of(std::uint64_t id) {
    const auto it = owners_.find(id);
    return it == owners_.end() ? nullptr : it->second;
  }
  static void complete(pending_wait& w, boost::system::error_code ec) {
    boost::asio::post(w.executor, boost::asio::append(std::move(w.handler), ec));
  }

  std::multimap<key, pending_wait> waits_;
  std::map<std::uint64_t, implementation_type*> owners_;
  std::uint64_t next_id_ = 0;
};

}  // namespace boost::asio::detail
