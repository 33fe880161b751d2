// powerbatch — configuration macros shared by every header.
//
// Override any of these before including powerbatch (or with -D) the way {fmt} lets you override FMT_ASSERT.
#pragma once

#include <cstdio>
#include <cstdlib>

#define POWERBATCH_VERSION_MAJOR 0
#define POWERBATCH_VERSION_MINOR 1
#define POWERBATCH_VERSION_PATCH 0

// The ABI namespace: a future incompatible release bumps it so that two versions can live in one program.
#define POWERBATCH_BEGIN_NAMESPACE \
  namespace powerbatch {           \
  inline namespace v1 {
#define POWERBATCH_END_NAMESPACE \
  }                              \
  }

// Internal invariant checks. On by default in debug builds; define POWERBATCH_ASSERT to route them elsewhere.
#ifndef POWERBATCH_ASSERT
#ifdef NDEBUG
#define POWERBATCH_ASSERT(condition, message) ((void)0)
#else
#define POWERBATCH_ASSERT(condition, message)                                                      \
  ((condition) ? (void)0                                                                          \
               : (std::fprintf(stderr, "%s:%d: powerbatch assertion failed: %s\n", __FILE__, __LINE__, \
                               message),                                                          \
                  std::abort()))
#endif
#endif

// Size of one cache line, used to keep producer-written and dispatcher-written atomics apart.
#ifndef POWERBATCH_CACHE_LINE
#define POWERBATCH_CACHE_LINE 64
#endif

// Bytes of inline storage for a completion handler before the request falls back to the handler's allocator.
// 64 holds a lambda with a few captures, use_future's promise handler and use_awaitable's handler.
#ifndef POWERBATCH_INLINE_HANDLER_BYTES
#define POWERBATCH_INLINE_HANDLER_BYTES 64
#endif
