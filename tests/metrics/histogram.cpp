// metrics/histogram.hpp: the log-linear layout, and percentiles within 2 % (in fact 1/128) of the exact values over
// 1 µs .. 100 s, recorded directly and through the recorder.
#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/recorder.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace pm = powerbatch::metrics;
namespace pb = powerbatch;

namespace {

// Nearest rank: the value at 1-based rank ceil(q * n) of the sorted values.
double exact_percentile(const std::vector<std::uint64_t>& sorted, double q) {
  const auto n = sorted.size();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  return static_cast<double>(sorted[rank - 1]);
}

// Log-uniform nanoseconds between 1 µs and 100 s.
std::vector<std::uint64_t> wide_range_values(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exponent(3.0, 11.0);
  std::vector<std::uint64_t> values(n);
  for (auto& v : values) v = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)));
  return values;
}

constexpr double quantiles[] = {0.0001, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999};

void check_percentiles(const pm::histogram_snapshot& h, std::vector<std::uint64_t> values) {
  std::sort(values.begin(), values.end());
  REQUIRE(h.count == values.size());
  double worst = 0;
  for (const double q : quantiles) {
    const double exact = exact_percentile(values, q);
    const double estimate = h.percentile(q);
    const double error = std::fabs(estimate - exact) / exact;
    worst = std::max(worst, error);
    INFO("q = " << q << ", exact " << exact << ", estimate " << estimate);
    REQUIRE(error <= 0.02);               // the bound
    CHECK(error <= 1.0 / 128 + 1e-12);    // the layout's own bound: half a bucket of 1/64
  }
  CHECK(worst > 0);  // the estimates are estimates: a test that compared a value with itself would show 0
  CHECK(h.percentile(0.0) == static_cast<double>(values.front()));
  CHECK(h.percentile(1.0) == static_cast<double>(values.back()));
}

}  // namespace

TEST_CASE("Every value lies in its bucket and buckets are at most 1/64 of their lower edge wide", "[histogram]") {
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> probes;
  for (std::uint64_t v = 0; v < 5000; ++v) probes.push_back(v);
  for (int i = 0; i < 100000; ++i) probes.push_back(rng() >> (rng() % 64));
  for (unsigned k = 0; k < 63; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    probes.insert(probes.end(), {p - 1, p, p + 1});
  }
  for (const std::uint64_t v : probes) {
    const std::size_t i = pm::bucket_index(v);
    INFO("value " << v << " bucket " << i);
    REQUIRE(pm::bucket_lower(i) <= v);
    REQUIRE(v <= pm::bucket_upper(i));
    if (v > 0) REQUIRE(static_cast<double>(pm::bucket_upper(i) - pm::bucket_lower(i)) <=
                       static_cast<double>(pm::bucket_lower(i)) / 64.0);
  }
  for (std::size_t i = 1; i < pm::bucket_count_for_bits(40); ++i)
    REQUIRE(pm::bucket_lower(i) == pm::bucket_upper(i - 1) + 1);  // contiguous, no gaps or overlaps
  for (unsigned k = 0; k < 63; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    CHECK(pm::bucket_upper(pm::bucket_index(p)) == p);  // powers of two are upper edges: exact `le` counts
  }
  for (std::uint64_t v = 0; v <= 128; ++v) CHECK(pm::bucket_lower(pm::bucket_index(v)) == v);  // small ones exact
}

TEST_CASE("Percentiles are within 2 % of the exact values from 1 us to 100 s", "[histogram]") {
  const std::vector<std::uint64_t> values = wide_range_values(200000, 42);
  pm::histogram_snapshot h;
  for (const auto v : values) h.record(v);
  check_percentiles(h, values);

  SECTION("and so are the recorder's, fed through on_batch") {
    pm::recorder recorder;
    const pb::time_point t0{};
    std::vector<pb::time_point> arrivals;
    // Latency = finished_at - arrival: one batch per value, all finishing at the same instant.
    const pb::time_point finished = t0 + std::chrono::seconds(200);
    for (const auto v : values) arrivals.push_back(finished - std::chrono::nanoseconds(v));
    for (std::size_t i = 0; i < arrivals.size(); i += 1000) {
      const std::size_t n = std::min<std::size_t>(1000, arrivals.size() - i);
      recorder.on_batch(pb::batch_record{0, n, pb::flush_reason::size, false, finished, finished, finished,
                                         std::span<const pb::time_point>(arrivals.data() + i, n)});
    }
    const pm::metrics_snapshot s = recorder.snapshot();
    check_percentiles(s.latency, values);
    check_percentiles(s.queue_time, values);  // dispatched at `finished` too
    CHECK(s.backend_time.count == 200);
    CHECK(s.backend_time.max == 0);
  }
}

TEST_CASE("count_at_or_below is exact at powers of two; merge adds histograms", "[histogram]") {
  const std::vector<std::uint64_t> values = wide_range_values(50000, 3);
  pm::histogram_snapshot a, b, all;
  for (std::size_t i = 0; i < values.size(); ++i) {
    (i % 2 ? a : b).record(values[i]);
    all.record(values[i]);
  }
  for (unsigned k = 0; k < 40; ++k) {
    const std::uint64_t edge = std::uint64_t{1} << k;
    const auto exact = static_cast<std::uint64_t>(std::count_if(values.begin(), values.end(),
                                                                [&](std::uint64_t v) { return v <= edge; }));
    REQUIRE(all.count_at_or_below(edge) == exact);
  }
  a.merge(b);
  CHECK(a.count == all.count);
  CHECK(a.sum == all.sum);
  CHECK(a.min == all.min);
  CHECK(a.max == all.max);
  CHECK(a.buckets == all.buckets);
  pm::histogram_snapshot empty;
  CHECK(empty.percentile(0.5) == 0.0);
  CHECK(empty.mean() == 0.0);
}
