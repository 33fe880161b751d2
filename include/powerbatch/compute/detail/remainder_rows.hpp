// compute::detail::with_remainder_rows — turns the run-time count of rows left after a kernel's full 12-row tiles
// (1..11) into a template argument, so each count gets a tile shape compiled for it.
#pragma once

#include <powerbatch/config.hpp>

#include <cstddef>

POWERBATCH_BEGIN_NAMESPACE
namespace compute::detail {

// Calls f.template operator()<rows>() for rows in 1..11; nothing for 0.
template <class F>
inline void with_remainder_rows(std::size_t rows, F&& f) {
  switch (rows) {
    case 11: f.template operator()<11>(); break;
    case 10: f.template operator()<10>(); break;
    case 9: f.template operator()<9>(); break;
    case 8: f.template operator()<8>(); break;
    case 7: f.template operator()<7>(); break;
    case 6: f.template operator()<6>(); break;
    case 5: f.template operator()<5>(); break;
    case 4: f.template operator()<4>(); break;
    case 3: f.template operator()<3>(); break;
    case 2: f.template operator()<2>(); break;
    case 1: f.template operator()<1>(); break;
    default: break;
  }
}

}  // namespace compute::detail
POWERBATCH_END_NAMESPACE
