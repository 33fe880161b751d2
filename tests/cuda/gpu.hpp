// Tests that need a GPU start with POWERBATCH_REQUIRE_GPU_OR_SKIP(): where none is usable the test WARNs why, with
// CUDA's own message, and returns — it passes without having checked anything, and the log says so.
#pragma once

#include <powerbatch/cuda/error.hpp>

#include <catch2/catch.hpp>

namespace powerbatch_cuda_tests {

inline bool gpu_visible() { return !powerbatch::cuda::device_count().error; }

}  // namespace powerbatch_cuda_tests

#define POWERBATCH_REQUIRE_GPU_OR_SKIP()                                                  \
  do {                                                                                    \
    const auto devices_ = ::powerbatch::cuda::device_count();                             \
    if (devices_.error) {                                                                 \
      WARN("no GPU visible: skipping the GPU part of this test (" << devices_.detail << ")"); \
      return;                                                                             \
    }                                                                                     \
  } while (false)
