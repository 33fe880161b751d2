// Support for diagnose chains: a failed requirement becomes one readable static_assert message.
#pragma once

#include <powerbatch/config.hpp>

POWERBATCH_BEGIN_NAMESPACE
namespace concepts_detail {

// Always false, but only once T is known, so a static_assert on it fires only in the branch that instantiates it.
template <class... T>
inline constexpr bool dependent_false = false;

// A move-only element used to probe container policies, as the batcher's requests are move-only.
struct move_only_probe {
  move_only_probe() = default;
  move_only_probe(move_only_probe&&) = default;
  move_only_probe& operator=(move_only_probe&&) = default;
  move_only_probe(const move_only_probe&) = delete;
  move_only_probe& operator=(const move_only_probe&) = delete;
  int value = 0;
};

}  // namespace concepts_detail
POWERBATCH_END_NAMESPACE
