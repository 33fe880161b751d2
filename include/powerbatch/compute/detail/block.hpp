// compute::detail::block — the part of one dense_forward call a single thread computes: rows of the batch times
// panels of output channels (16 channels each, the packed layouts' unit).
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

struct block {
  std::size_t row_begin = 0;
  std::size_t row_end = 0;
  std::size_t panel_begin = 0;
  std::size_t panel_end = 0;
};

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
