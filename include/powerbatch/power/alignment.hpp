// power::alignment — a shared grid of wake-up instants, so that several batchers (and any other timer the user
// aligns with the same functions) wake the CPU together instead of one after another.
//
// The grid is absolute: its ticks are the multiples of its period since the steady clock's epoch, so two batchers
// that never talk to each other still pick the same instants. Periods are powers of two times 1 ms, so grids nest:
// every tick of a coarse grid is also a tick of every finer one, and batchers with different tolerances still share
// the coarse ticks. Linux timer slack and Apple's dispatch leeway coalesce timers the same way, but only within one
// process's or one kernel's view; an explicit grid also works on a manual clock and is testable.
#pragma once

#include <powerbatch/clock.hpp>
#include <powerbatch/config.hpp>

#include <chrono>

POWERBATCH_BEGIN_NAMESPACE
namespace power {

// The finest grid period: 1 ms, the resolution at which OS timer coalescing works (Windows' default tick is
// 15.6 ms, Linux's default timer slack 50 us, so anything finer buys nothing).
inline constexpr duration grid_unit = std::chrono::milliseconds(1);

// How many grid periods fit into a tolerance: four, so that a flush due at R and allowed until R + tolerance
// always finds a tick in [R + 3/4 tolerance, R + tolerance] — it spends most of its tolerance (larger batches,
// fewer wake-ups) while every batcher of the same profile still lands on the same ticks.
inline constexpr int grid_periods_per_tolerance = 4;

// The grid a tolerance allows: the largest 1 ms * 2^n not above tolerance / 4, or zero (no grid) below 4 ms.
constexpr duration wake_grid(duration tolerance) noexcept {
  const duration limit = tolerance / grid_periods_per_tolerance;
  if (limit < grid_unit) return duration::zero();
  duration grid = grid_unit;
  while (grid * 2 <= limit) grid *= 2;
  return grid;
}

// The last tick at or before t (t itself when the grid is zero).
constexpr time_point align_down(time_point t, duration grid) noexcept {
  if (grid <= duration::zero() || t == time_point::max()) return t;
  const duration since_epoch = t.time_since_epoch();
  duration rest = since_epoch % grid;
  if (rest < duration::zero()) rest += grid;
  return t - rest;
}

// The first tick at or after t (t itself when the grid is zero or t is max()).
constexpr time_point align_up(time_point t, duration grid) noexcept {
  const time_point down = align_down(t, grid);
  if (down == t) return t;
  if (time_point::max() - down < grid) return time_point::max();
  return down + grid;
}

// When a flush due at `due` may leave, given `tolerance` on top of it: the last tick of `grid` at or before
// due + tolerance. With grid <= tolerance that tick is never before `due`. A zero tolerance leaves at `due`.
constexpr time_point aligned_flush_time(time_point due, duration tolerance, duration grid) noexcept {
  if (due == time_point::max()) return due;
  if (tolerance <= duration::zero()) return due;
  if (time_point::max() - due < tolerance) return time_point::max();
  const time_point latest = due + tolerance;
  if (grid <= duration::zero() || grid > tolerance) return latest;
  return align_down(latest, grid);
}

// The inverse view for a policy that only knows "is its due time past?": at `now`, every flush whose due time is
// at most the returned instant may leave (aligned_flush_time(due) <= now  <=>  due <= latest_due_leaving_at(now)).
constexpr time_point latest_due_leaving_at(time_point now, duration tolerance, duration grid) noexcept {
  if (tolerance <= duration::zero()) return now;
  if (grid <= duration::zero() || grid > tolerance) return now - tolerance;
  // aligned_flush_time(due) = align_down(due + tolerance) <= now  <=>  due + tolerance < align_down(now) + grid.
  return align_down(now, grid) + grid - tolerance - duration(1);
}

}  // namespace power
POWERBATCH_END_NAMESPACE
