// Asks the CPU to start loading the cache lines of an object the caller will touch soon (a hint: a no-op where the
// compiler offers no prefetch). The dispatcher reads each request at scattered places in its slab; issuing those
// loads together lets their misses overlap instead of stalling one after another.
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace detail {

template <class T>
inline void prefetch_object(const T* object) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  const char* bytes = reinterpret_cast<const char*>(object);
  for (std::size_t offset = 0; offset < sizeof(T); offset += POWERBATCH_CACHE_LINE) __builtin_prefetch(bytes + offset);
#else
  (void)object;
#endif
}

}  // namespace detail
POWERBATCH_END_NAMESPACE
