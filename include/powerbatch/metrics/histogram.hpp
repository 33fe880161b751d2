// metrics::histogram_snapshot — a log-linear histogram of non-negative integers (nanoseconds, batch sizes), the
// plain value a recorder's snapshot holds, and the bucket layout the recorder counts into.
//
// Layout (HdrHistogram's, with upper-inclusive buckets): 0 has its own bucket; every value from 1 to 128 too;
// above that, each power-of-two octave (2^e, 2^(e+1)] is split into 64 equal buckets. A bucket is therefore at most
// 1/64 of its lower edge wide, and percentile() answers the middle of the bucket the exact answer lies in: within
// 1/128 (0.8 %) of the exact value whatever the range. Upper edges are inclusive and every power of two is one, so
// "how many values <= 2^k" (a Prometheus `le` bucket) is counted exactly.
//
// Thread safety: a histogram_snapshot is a plain value; the lock-free counting side lives in metrics/recorder.hpp.
#pragma once

#include <powerbatch/config.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace metrics {

// Linear buckets per octave, as a power of two: 2^6 = 64 gives buckets at most 1/64 as wide as their lower edge.
inline constexpr unsigned sub_bucket_bits = 6;
inline constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;

// The bucket holding `value`.
constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
  if (value == 0) return 0;
  const std::uint64_t u = value - 1;  // buckets are (lower, upper]: index the value below
  if (u < sub_buckets) return static_cast<std::size_t>(1 + u);
  const unsigned octave = static_cast<unsigned>(std::bit_width(u)) - 1;  // >= sub_bucket_bits
  const unsigned shift = octave - sub_bucket_bits;
  return static_cast<std::size_t>(1 + std::uint64_t{shift} * sub_buckets + (u >> shift));
}

// The largest value bucket `index` holds (inclusive).
constexpr std::uint64_t bucket_upper(std::size_t index) noexcept {
  if (index == 0) return 0;
  const std::uint64_t k = index - 1;
  if (k < 2 * sub_buckets) return k + 1;  // the first two octaves are one value per bucket
  const std::uint64_t shift = (k - sub_buckets) / sub_buckets;
  const std::uint64_t mantissa = sub_buckets + (k - sub_buckets) % sub_buckets;
  if (shift + sub_bucket_bits + 1 >= 64 && mantissa + 1 == 2 * sub_buckets)
    return std::numeric_limits<std::uint64_t>::max();  // the top bucket ends at 2^64 - 1
  return (mantissa + 1) << shift;
}

// The smallest value bucket `index` holds (inclusive).
constexpr std::uint64_t bucket_lower(std::size_t index) noexcept {
  return index == 0 ? 0 : bucket_upper(index - 1) + 1;
}

// Buckets needed to hold every value up to 2^value_bits; larger values are counted in the last one.
constexpr std::size_t bucket_count_for_bits(unsigned value_bits) noexcept {
  return bucket_index(std::uint64_t{1} << value_bits) + 1;
}

static_assert(bucket_index(0) == 0 && bucket_index(1) == 1 && bucket_index(128) == 128);
static_assert(bucket_upper(bucket_index(1000)) >= 1000 && bucket_lower(bucket_index(1000)) <= 1000);
static_assert(bucket_upper(bucket_index(std::uint64_t{1} << 30)) == std::uint64_t{1} << 30);

// A histogram as a plain value: counts per bucket (trailing empty buckets trimmed), with the exact count, sum,
// minimum and maximum of what was recorded.
struct histogram_snapshot {
  std::uint64_t count = 0;
  std::uint64_t sum = 0;  // wraps past 2^64 (584 years of nanoseconds)
  std::uint64_t min = 0;  // 0 when empty
  std::uint64_t max = 0;
  std::vector<std::uint64_t> buckets;  // buckets[i] counts values in [bucket_lower(i), bucket_upper(i)]

  bool empty() const noexcept { return count == 0; }
  double mean() const noexcept { return count == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(count); }

  // The q-quantile (0 <= q <= 1) by nearest rank: the value at 1-based rank ceil(q * count) of the sorted values,
  // estimated as the middle of its bucket and kept within [min, max]. 0 when empty.
  double percentile(double q) const noexcept {
    if (count == 0) return 0.0;
    if (!(q > 0)) return static_cast<double>(min);
    if (q >= 1) return static_cast<double>(max);
    const double exact_rank = std::ceil(q * static_cast<double>(count));
    const std::uint64_t rank = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(exact_rank), 1, count);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen >= rank) {
        const double middle =
            (static_cast<double>(bucket_lower(i)) + static_cast<double>(bucket_upper(i))) / 2.0;
        return std::clamp(middle, static_cast<double>(min), static_cast<double>(max));
      }
    }
    return static_cast<double>(max);
  }

  // How many recorded values are <= `value`: exact when `value` is a bucket's upper edge (every power of two is),
  // otherwise it counts the whole bucket `value` falls in.
  std::uint64_t count_at_or_below(std::uint64_t value) const noexcept {
    const std::size_t last = bucket_index(value);
    std::uint64_t n = 0;
    for (std::size_t i = 0; i <= last && i < buckets.size(); ++i) n += buckets[i];
    return n;
  }

  // Adds another histogram's values to this one (the policy lab merges repeated runs).
  void merge(const histogram_snapshot& other) {
    if (other.count == 0) return;
    min = count == 0 ? other.min : std::min(min, other.min);
    max = count == 0 ? other.max : std::max(max, other.max);
    count += other.count;
    sum += other.sum;
    if (buckets.size() < other.buckets.size()) buckets.resize(other.buckets.size(), 0);
    for (std::size_t i = 0; i < other.buckets.size(); ++i) buckets[i] += other.buckets[i];
  }

  // Adds one value (for building a snapshot by hand, e.g. from a simulation; the recorder counts atomically).
  void record(std::uint64_t value, std::uint64_t times = 1) {
    if (times == 0) return;
    const std::size_t index = bucket_index(value);
    if (buckets.size() <= index) buckets.resize(index + 1, 0);
    buckets[index] += times;
    min = count == 0 ? value : std::min(min, value);
    max = count == 0 ? value : std::max(max, value);
    count += times;
    sum += value * times;
  }
};

// The percentiles every format reports, as (label, q).
struct percentile_point {
  const char* label;  // "p50", "p90", "p99", "p99.9"
  const char* key;    // the same as a JSON / identifier-friendly key: "p50", ..., "p999"
  double q;
};
inline constexpr percentile_point reported_percentiles[] = {
    {"p50", "p50", 0.50}, {"p90", "p90", 0.90}, {"p99", "p99", 0.99}, {"p99.9", "p999", 0.999}};

}  // namespace metrics
POWERBATCH_END_NAMESPACE
