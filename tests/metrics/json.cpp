// metrics/json.hpp: the output read back with Boost.JSON (header-only here, through boost/json/src.hpp): valid JSON,
// escaped names, and every figure where it should be.
#include "sample_results.hpp"

#include <powerbatch/metrics/json.hpp>

#include <boost/json/src.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace metrics_test;
namespace json = boost::json;

namespace {

double number(const json::value& v) { return v.to_number<double>(); }

}  // namespace

TEST_CASE("The JSON report parses back with every profile, escaped names and exact figures", "[json]") {
  std::vector<pm::profile_result> results = two_profiles();
  results[1].name += std::string("\t\x01 \xC3\xA9");  // a tab, a control character and UTF-8 (é)
  const std::string text = pm::json_report(results, "report \"one\"");
  json::error_code ec;
  const json::value doc = json::parse(text, ec);
  INFO(text.substr(0, 400));
  REQUIRE_FALSE(ec);
  CHECK(doc.at("title").as_string() == "report \"one\"");
  const json::array& profiles = doc.at("profiles").as_array();
  REQUIRE(profiles.size() == 2);
  CHECK(profiles[1].at("name").as_string() == results[1].name);

  for (std::size_t i = 0; i < 2; ++i) {
    const pm::metrics_snapshot& m = results[i].metrics;
    const json::object& p = profiles[i].as_object();
    const json::object& metrics = p.at("metrics").as_object();
    CHECK(metrics.at("batches").to_number<std::uint64_t>() == m.batches);
    CHECK(metrics.at("requests").to_number<std::uint64_t>() == m.requests);
    CHECK(metrics.at("failed_requests").to_number<std::uint64_t>() == m.failed_requests);
    CHECK(metrics.at("flushes").at("delay").to_number<std::uint64_t>() == m.flushes(pb::flush_reason::delay));
    CHECK(metrics.at("rejections").at("queue_full").to_number<std::uint64_t>() == 5);
    CHECK(metrics.at("thread_wakeups").to_number<std::uint64_t>() == m.thread_wakeups);
    const json::object& latency = metrics.at("latency_seconds").as_object();
    CHECK(latency.at("count").to_number<std::uint64_t>() == m.latency.count);
    CHECK(number(latency.at("p99")) == Approx(m.latency.percentile(0.99) / 1e9));
    CHECK(number(latency.at("p999")) == Approx(m.latency.percentile(0.999) / 1e9));
    CHECK(number(latency.at("sum")) == Approx(static_cast<double>(m.latency.sum) / 1e9));
    std::uint64_t in_buckets = 0;
    double last_le = -1;
    for (const json::value& b : latency.at("buckets").as_array()) {
      in_buckets += b.at("count").to_number<std::uint64_t>();
      CHECK(number(b.at("le")) > last_le);
      last_le = number(b.at("le"));
    }
    CHECK(in_buckets == m.latency.count);
    CHECK(metrics.at("batch_size").at("max").to_number<std::uint64_t>() == m.batch_size.max);
  }
  CHECK(number(profiles[0].at("power").at("energy_mj_per_request")) == Approx(0.85));
  CHECK(profiles[0].at("power").at("energy_source").as_string() == "RAPL");
  CHECK(number(profiles[0].at("throughput_per_second")) ==
        Approx(static_cast<double>(results[0].metrics.requests) / 2.0));
  CHECK(profiles[0].at("pool").at("hits").to_number<std::uint64_t>() == 90);
  CHECK(number(profiles[0].at("pool").at("hit_ratio")) == Approx(0.9));
  CHECK_FALSE(profiles[1].as_object().contains("pool"));
  CHECK_FALSE(profiles[1].as_object().contains("duration_seconds"));
  CHECK(number(profiles[1].at("wakeups_per_request")) == Approx(0.25));  // the power figures' own
}

TEST_CASE("JSON of an empty snapshot is valid, with zeros and no NaN", "[json]") {
  const pm::metrics_snapshot empty;
  const std::string text = pm::json(empty);
  json::error_code ec;
  const json::value doc = json::parse(text, ec);
  REQUIRE_FALSE(ec);
  CHECK(doc.at("batches").to_number<std::uint64_t>() == 0);
  CHECK(doc.at("latency_seconds").at("buckets").as_array().empty());
  CHECK(number(doc.at("latency_seconds").at("p50")) == 0.0);
  CHECK(pm::format::json_number(std::nan("")) == "null");
}
