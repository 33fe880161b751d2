// What the Markdown and HTML power-efficiency reports share: their options, and the figures they both derive from
// a list of runs (batch-size bins, shares of flush reasons).
#pragma once

#include <powerbatch/config.hpp>
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/result.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

struct report_options {
  std::string title = "powerbatch power-efficiency report";
  std::string description;  // a paragraph under the title: what was run, on what machine (plain text)
  std::string generated;    // when / by what, shown under the title if set (the caller's clock: reports stay
                            // reproducible)
};

// Batch sizes in power-of-two ranges, (2^(k-1), 2^k]: 1, 2, 3-4, 5-8, ... — counted exactly, since every power of
// two is a histogram bucket edge.
struct batch_size_bin {
  std::uint64_t lowest = 0, highest = 0;
  std::string label() const {
    return lowest == highest ? std::to_string(lowest) : std::to_string(lowest) + "\xE2\x80\x93" + std::to_string(highest);
  }
};

// The bins needed to show every run's largest batch.
inline std::vector<batch_size_bin> batch_size_bins(std::span<const profile_result> results) {
  std::uint64_t largest = 1;
  for (const profile_result& r : results) largest = std::max(largest, r.metrics.batch_size.max);
  std::vector<batch_size_bin> bins{{1, 1}};
  for (std::uint64_t upper = 2; bins.back().highest < largest && upper != 0; upper *= 2)
    bins.push_back({upper / 2 + 1, upper});
  return bins;
}

// Batches of `h` whose size falls in `bin`.
inline std::uint64_t batches_in(const histogram_snapshot& h, const batch_size_bin& bin) {
  return h.count_at_or_below(bin.highest) - h.count_at_or_below(bin.lowest - 1);
}

inline double share(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace metrics
POWERBATCH_END_NAMESPACE
