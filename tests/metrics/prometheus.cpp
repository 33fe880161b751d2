// metrics/prometheus.hpp: the output parsed back line by line against the text format 0.0.4 — HELP and TYPE once
// per family and before its samples, valid names, counters ending in _total, histogram buckets cumulative with
// increasing `le` ending at +Inf = _count, escaped label values — and exact counts.
#include "sample_results.hpp"

#include <powerbatch/compute/pool.hpp>
#include <powerbatch/metrics/prometheus.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace metrics_test;

namespace {

struct sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped, in order
  double value;
  std::string label(const std::string& key) const {
    for (const auto& [k, v] : labels)
      if (k == key) return v;
    return "<missing>";
  }
};

bool metric_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  return true;
}

double parse_value(const std::string& text) {
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return NAN;
  std::size_t used = 0;
  const double v = std::stod(text, &used);
  if (used != text.size()) throw std::runtime_error("bad value: " + text);
  return v;
}

// One sample line: name{k="v",...} value — label values unescaped (\\, \", \n).
sample parse_sample(const std::string& line) {
  sample s;
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s.name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (line.at(i) != '}') {
      const std::size_t eq = line.find('=', i);
      const std::string key = line.substr(i, eq - i);
      if (line.at(eq + 1) != '"') throw std::runtime_error("label value not quoted: " + line);
      std::string value;
      std::size_t j = eq + 2;
      for (; line.at(j) != '"'; ++j) {
        if (line[j] == '\\') {
          const char e = line.at(++j);
          if (e == 'n') value += '\n';
          else if (e == '\\' || e == '"') value += e;
          else throw std::runtime_error("bad escape in: " + line);
        } else {
          value += line[j];
        }
      }
      s.labels.emplace_back(key, value);
      i = j + 1;
      if (line.at(i) == ',') ++i;
    }
    ++i;
  }
  if (line.at(i) != ' ') throw std::runtime_error("no space before value: " + line);
  s.value = parse_value(line.substr(i + 1));
  return s;
}

struct parsed {
  std::map<std::string, std::string> types;
  std::vector<sample> samples;
};

// Parses and checks the format's structural rules; returns the samples.
parsed parse_and_check(const std::string& text) {
  parsed out;
  std::set<std::string> helped;
  std::string current_family;
  std::istringstream in(text);
  std::string line;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    INFO(line);
    REQUIRE(!line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      REQUIRE(metric_name(name));
      REQUIRE(helped.insert(name).second);  // once per family
      current_family = name;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream fields(line.substr(7));
      std::string name, type;
      fields >> name >> type;
      REQUIRE(name == current_family);  // TYPE follows its HELP, before any sample
      REQUIRE(out.types.count(name) == 0);
      REQUIRE((type == "counter" || type == "gauge" || type == "histogram"));
      if (type == "counter") REQUIRE(name.size() > 6);
      if (type == "counter") REQUIRE(name.substr(name.size() - 6) == "_total");
      out.types[name] = type;
    } else {
      REQUIRE(line[0] != '#');
      const sample s = parse_sample(line);
      REQUIRE(metric_name(s.name));
      // A sample belongs to the family announced last: same name, or name + _bucket/_sum/_count for a histogram.
      const bool same = s.name == current_family;
      const bool histogram_part = out.types[current_family] == "histogram" &&
                                  (s.name == current_family + "_bucket" || s.name == current_family + "_sum" ||
                                   s.name == current_family + "_count");
      REQUIRE((same || histogram_part));
      if (s.name.size() > 7 && s.name.substr(s.name.size() - 7) == "_bucket") REQUIRE(s.label("le") != "<missing>");
      out.samples.push_back(s);
    }
  }
  return out;
}

// Histogram invariants for one family: per label set, le increasing, counts cumulative, +Inf last and == _count.
void check_histogram(const parsed& p, const std::string& family) {
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // series key -> (le, count)
  std::map<std::string, double> counts, sums;
  for (const sample& s : p.samples) {
    std::string key;
    for (const auto& [k, v] : s.labels)
      if (k != "le") key += k + "=" + v + ";";
    if (s.name == family + "_bucket") buckets[key].emplace_back(parse_value(s.label("le")), s.value);
    if (s.name == family + "_count") counts[key] = s.value;
    if (s.name == family + "_sum") sums[key] = s.value;
  }
  REQUIRE(!buckets.empty());
  for (const auto& [key, series] : buckets) {
    INFO(family << " " << key);
    REQUIRE(series.size() >= 2);
    for (std::size_t i = 1; i < series.size(); ++i) {
      REQUIRE(series[i].first > series[i - 1].first);
      REQUIRE(series[i].second >= series[i - 1].second);
    }
    REQUIRE(std::isinf(series.back().first));
    REQUIRE(counts.count(key) == 1);
    REQUIRE(sums.count(key) == 1);
    REQUIRE(series.back().second == counts.at(key));
  }
}

}  // namespace

TEST_CASE("Prometheus text parses back and keeps the format's invariants", "[prometheus]") {
  const std::vector<pm::profile_result> results = two_profiles();
  pm::prometheus_options options;
  options.constant_labels = {{"service", "digits \"v2\"\nline\\two"}};
  const std::string text = pm::prometheus_text(results, options);
  const parsed p = parse_and_check(text);

  for (const char* family : {"powerbatch_queue_duration_seconds", "powerbatch_backend_duration_seconds",
                             "powerbatch_request_duration_seconds", "powerbatch_batch_size"}) {
    CHECK(p.types.at(family) == "histogram");
    check_histogram(p, family);
  }
  CHECK(p.types.at("powerbatch_batches_total") == "counter");
  CHECK(p.types.at("powerbatch_rejected_requests_total") == "counter");
  CHECK(p.types.at("powerbatch_pool_hits_total") == "counter");
  CHECK(p.types.at("powerbatch_energy_per_request_joules") == "gauge");

  // Label values come back unescaped; each result carries its name.
  std::set<std::string> batchers;
  for (const sample& s : p.samples) {
    REQUIRE(s.label("service") == "digits \"v2\"\nline\\two");
    REQUIRE(s.labels.front().first == "service");
    batchers.insert(s.label("batcher"));
  }
  CHECK(batchers == std::set<std::string>{results[0].name, results[1].name});

  // Values match the snapshots: counters, and exact `le` counts at powers of two of nanoseconds.
  const pm::metrics_snapshot& m = results[1].metrics;
  int checked = 0;
  for (const sample& s : p.samples) {
    if (s.label("batcher") != results[1].name) continue;
    if (s.name == "powerbatch_batches_total" && s.label("reason") == "delay") {
      CHECK(s.value == static_cast<double>(m.flushes(pb::flush_reason::delay)));
      ++checked;
    }
    if (s.name == "powerbatch_rejected_requests_total" && s.label("reason") == "queue_full") {
      CHECK(s.value == 5);
      ++checked;
    }
    if (s.name == "powerbatch_queue_duration_seconds_bucket" && s.label("le") != "+Inf") {
      const double le_ns = std::round(parse_value(s.label("le")) * 1e9);
      CHECK(s.value == static_cast<double>(m.queue_time.count_at_or_below(static_cast<std::uint64_t>(le_ns))));
      ++checked;
    }
    if (s.name == "powerbatch_request_duration_seconds_sum") {
      CHECK(s.value == Approx(static_cast<double>(m.latency.sum) * 1e-9));
      ++checked;
    }
    if (s.name == "powerbatch_batch_size_bucket" && s.label("le") == "4") {
      std::uint64_t at_most_4 = 0;
      for (std::size_t i = 0; i < m.batch_size.buckets.size() && pm::bucket_upper(i) <= 4; ++i)
        at_most_4 += m.batch_size.buckets[i];
      CHECK(s.value == static_cast<double>(at_most_4));
      ++checked;
    }
    if (s.name == "powerbatch_energy_per_request_joules") {
      CHECK(s.label("source") == "model");
      CHECK(s.value == Approx(0.4e-3));
      ++checked;
    }
  }
  CHECK(checked == 2 + 28 + 3);  // two counters, 28 duration buckets (2^10..2^37 ns), sum, le=4, energy
  // The queue-time buckets are not all equal: the test data spreads over many of them.
  CHECK(m.queue_time.count_at_or_below(std::uint64_t{1} << 20) < m.queue_time.count);
  CHECK(m.queue_time.count_at_or_below(std::uint64_t{1} << 20) > 0);
}

TEST_CASE("A single snapshot has no result label; pool and power families appear only when given", "[prometheus]") {
  const pm::metrics_snapshot s = recorded(5, 50, 8, std::chrono::microseconds(500));
  const std::string text = pm::prometheus_text(s);
  const parsed p = parse_and_check(text);
  for (const sample& x : p.samples) CHECK(x.label("batcher") == "<missing>");
  CHECK(p.types.count("powerbatch_pool_hits_total") == 0);
  CHECK(p.types.count("powerbatch_energy_per_request_joules") == 0);
  CHECK(text.find("powerbatch_processed_requests_total " + std::to_string(s.requests) + "\n") != std::string::npos);
}

TEST_CASE("Bad label names are refused with a message naming them", "[prometheus]") {
  const pm::metrics_snapshot s;
  pm::prometheus_options bad;
  bad.constant_labels = {{"9lives", "x"}};
  CHECK_THROWS_WITH(pm::prometheus_text(s, bad), Catch::Contains("\"9lives\""));
  bad.constant_labels = {{"le", "x"}};
  CHECK_THROWS_WITH(pm::prometheus_text(s, bad), Catch::Contains("\"le\""));
  bad.constant_labels = {{"batcher", "x"}};
  CHECK_THROWS_WITH(pm::prometheus_text(s, bad), Catch::Contains("result_label"));
  pm::prometheus_options bad_buckets;
  bad_buckets.duration_le_min_log2 = 40;
  bad_buckets.duration_le_max_log2 = 30;
  CHECK_THROWS_AS(pm::prometheus_text(s, bad_buckets), std::invalid_argument);
}

TEST_CASE("A compute::Pool's statistics go into the exposition through to_pool_figures", "[prometheus][pool]") {
  pb::compute::Pool<> pool;
  {
    auto first = pool.acquire<float>({4, 16});  // a miss
  }
  auto second = pool.acquire<float>({4, 16});  // a hit: the first buffer, shelved
  const pb::compute::pool_stats stats = pool.stats();
  REQUIRE(stats.hits == 1);
  REQUIRE(stats.misses == 1);

  pm::profile_result r;
  r.name = "pooled";
  r.pool = pm::to_pool_figures(stats);
  CHECK(r.pool->bytes_leased == stats.bytes_leased);
  CHECK(r.pool->hit_ratio() == Approx(0.5));
  const parsed p = parse_and_check(pm::prometheus_text(std::span<const pm::profile_result>(&r, 1)));
  int seen = 0;
  for (const sample& s : p.samples) {
    double expected = -1;
    if (s.name == "powerbatch_pool_hits_total" || s.name == "powerbatch_pool_misses_total") expected = 1;
    if (s.name == "powerbatch_pool_leased_bytes") expected = static_cast<double>(stats.bytes_leased);
    if (expected < 0) continue;
    CHECK(s.value == expected);
    ++seen;
  }
  CHECK(seen == 3);
  CHECK(stats.bytes_leased >= 4 * 16 * sizeof(float));
}
