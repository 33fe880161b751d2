// Trace generators' statistics, spec parsing and CSV replay, with fixed seeds.
#include <powerbatch/lab/trace.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace lab = powerbatch::lab;
using namespace std::chrono_literals;

namespace {

std::vector<double> gaps_of(const std::vector<lab::arrival>& arrivals) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < arrivals.size(); ++i) gaps.push_back(lab::seconds_of(arrivals[i].at - arrivals[i - 1].at));
  return gaps;
}

std::vector<lab::arrival> generate(const std::string& spec, std::uint64_t seed = 7) {
  auto source = lab::make_source(lab::parse_trace_spec(spec), seed);
  return lab::collect(*source);
}

std::string error_of(const std::string& csv) {
  std::istringstream in(csv);
  try {
    lab::parse_trace_csv(in, "t.csv");
  } catch (const lab::input_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Poisson: rate and coefficient of variation of the gaps", "[lab][trace]") {
  const auto arrivals = generate("poisson:rate=1000,duration=200s");
  // 200 000 expected; the count of a Poisson process has sd sqrt(200000) ~ 450.
  CHECK(std::abs(static_cast<double>(arrivals.size()) - 200000.0) < 5 * 450);
  const auto gaps = gaps_of(arrivals);
  double sum = 0, squares = 0;
  for (double g : gaps) sum += g, squares += g * g;
  const double mean = sum / static_cast<double>(gaps.size());
  const double sd = std::sqrt(squares / static_cast<double>(gaps.size()) - mean * mean);
  CHECK(mean == Approx(1e-3).epsilon(0.01));
  CHECK(sd / mean == Approx(1.0).epsilon(0.02));  // exponential gaps: CV = 1
  for (std::size_t i = 1; i < arrivals.size(); ++i) REQUIRE(arrivals[i].at >= arrivals[i - 1].at);
}

TEST_CASE("The same seed gives the same trace; another seed another one", "[lab][trace]") {
  const auto a = generate("bursty:duration=60s", 3), b = generate("bursty:duration=60s", 3);
  const auto c = generate("bursty:duration=60s", 4);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i].at == b[i].at);
  CHECK(a.size() != c.size());
}

TEST_CASE("Bursty (MMPP-2): state sojourns and the rate in each state", "[lab][trace]") {
  // Rates far apart (20/s and 2000/s): gaps under 5 ms belong to the high state. The long-run rate is the
  // sojourn-weighted mean: (20 * 2 + 2000 * 0.5) / 2.5 = 416/s.
  const auto arrivals = generate("bursty:low=20,high=2000,mean_low=2s,mean_high=0.5s,duration=2000s");
  const double rate = static_cast<double>(arrivals.size()) / 2000.0;
  CHECK(rate == Approx(416).epsilon(0.08));
  // Bursts: runs of at least 10 gaps under 5 ms (a low-state gap is that short 10 % of the time, ten in a row
  // practically never). Their mean length in time approximates mean_high (0.5 s).
  const auto gaps = gaps_of(arrivals);
  double burst_time = 0, current = 0;
  int bursts = 0, run = 0;
  for (double g : gaps) {
    if (g < 0.005) {
      current += g;
      ++run;
      continue;
    }
    if (run >= 10) {
      burst_time += current;
      ++bursts;
    }
    current = 0;
    run = 0;
  }
  REQUIRE(bursts > 500);
  CHECK(burst_time / bursts == Approx(0.5).epsilon(0.1));
  // Over-dispersed: the gaps' CV is well above a Poisson process's 1.
  double sum = 0, squares = 0;
  for (double g : gaps) sum += g, squares += g * g;
  const double mean = sum / static_cast<double>(gaps.size());
  CHECK(std::sqrt(squares / static_cast<double>(gaps.size()) - mean * mean) / mean > 2.0);
}

TEST_CASE("Step: the rate before and after the step", "[lab][trace]") {
  const auto arrivals = generate("step:from=100,to=1000,at=50s,duration=100s");
  std::size_t before = 0;
  for (const auto& a : arrivals) before += a.at < 50s;
  CHECK(static_cast<double>(before) == Approx(5000).epsilon(0.05));
  CHECK(static_cast<double>(arrivals.size() - before) == Approx(50000).epsilon(0.03));
}

TEST_CASE("Diurnal: mean rate, trough at midnight, peak at noon of peak x mean", "[lab][trace]") {
  const auto spec = lab::parse_trace_spec("diurnal:mean=20,peak=3,duration=24h");
  auto source = lab::make_source(spec, 11);
  const auto arrivals = lab::collect(*source);
  CHECK(static_cast<double>(arrivals.size()) == Approx(20.0 * 86400).epsilon(0.02));
  std::vector<double> per_hour(24, 0);
  for (const auto& a : arrivals) per_hour[static_cast<std::size_t>(lab::seconds_of(a.at) / 3600)] += 1;
  // Hour 11-12 and 12-13 straddle the peak; 23-24 and 0-1 the trough.
  const double noon = (per_hour[11] + per_hour[12]) / 2 / 3600, midnight = (per_hour[0] + per_hour[23]) / 2 / 3600;
  lab::diurnal_source shape(spec, 1);
  CHECK(shape.rate_at(12 * 3600.0) == Approx(60.0).epsilon(1e-6));  // peak x mean
  CHECK(noon == Approx(shape.rate_at(11.5 * 3600.0)).epsilon(0.05));
  CHECK(midnight == Approx(shape.rate_at(0.5 * 3600.0)).epsilon(0.1));
  CHECK(midnight < noon / 4);
}

TEST_CASE("Decorations: deadline, keys and urgent share", "[lab][trace]") {
  const auto arrivals = generate("poisson:rate=1000,duration=20s,deadline=50ms,keys=4,urgent=0.1");
  std::size_t urgent = 0;
  std::vector<std::size_t> per_key(4, 0);
  for (const auto& a : arrivals) {
    REQUIRE(a.timeout == 50ms);
    REQUIRE(a.key < 4);
    ++per_key[a.key];
    urgent += a.priority == powerbatch::priority_levels::high;
  }
  CHECK(static_cast<double>(urgent) / static_cast<double>(arrivals.size()) == Approx(0.1).epsilon(0.1));
  for (std::size_t n : per_key) CHECK(static_cast<double>(n) == Approx(5000).epsilon(0.1));
}

TEST_CASE("Trace specs: errors name the bad kind, field or value", "[lab][trace]") {
  auto message = [](const std::string& spec) -> std::string {
    try {
      lab::parse_trace_spec(spec);
    } catch (const lab::input_error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK_THAT(message("gaussian:rate=3"), Catch::Contains("unknown kind 'gaussian'") &&
                                             Catch::Contains("valid: bursty, csv, diurnal, poisson, step"));
  CHECK_THAT(message("poisson:rate=100,speed=3"),
             Catch::Contains("unknown field 'speed' for poisson") && Catch::Contains("valid: rate, duration"));
  CHECK_THAT(message("poisson:rate=fast"), Catch::Contains("field rate='fast' is not a non-negative number"));
  CHECK_THAT(message("bursty:mean_low=2 weeks"), Catch::Contains("field mean_low") && Catch::Contains("not a duration"));
  CHECK_THAT(message("poisson:rate"), Catch::Contains("'rate' is not field=value"));
  CHECK_THAT(message("csv:"), Catch::Contains("csv needs a path"));
  CHECK(lab::parse_duration("250ms", "x") == 250ms);
  CHECK(lab::parse_duration("800us", "x") == 800us);
  CHECK(lab::parse_duration("2.5s", "x") == 2500ms);
  CHECK(lab::parse_duration("10m", "x") == 600s);
  CHECK(lab::parse_duration("24h", "x") == 24h);
  CHECK(lab::parse_duration("3", "x") == 3s);
}

TEST_CASE("CSV traces: parse, defaults, header and comments; round trip", "[lab][trace]") {
  std::istringstream in(
      "arrival_s,priority,key,deadline_ms\n"
      "# a comment\n"
      "0.5,0,7,20\n"
      "0.75,,,\n"
      "1.25\n");
  const auto arrivals = lab::parse_trace_csv(in, "t.csv");
  REQUIRE(arrivals.size() == 3);
  CHECK(arrivals[0].at == 500ms);
  CHECK(arrivals[0].priority == 0);
  CHECK(arrivals[0].key == 7);
  CHECK(arrivals[0].timeout == 20ms);
  CHECK(arrivals[1].priority == powerbatch::priority_levels::normal);
  CHECK(arrivals[1].timeout == powerbatch::duration::zero());
  CHECK(arrivals[2].at == 1250ms);

  const auto generated = generate("poisson:rate=100,duration=5s,deadline=30ms,keys=3,urgent=0.2");
  std::stringstream file;
  lab::write_trace_csv(file, generated);
  const auto replayed = lab::parse_trace_csv(file, "round-trip.csv");
  REQUIRE(replayed.size() == generated.size());
  for (std::size_t i = 0; i < generated.size(); ++i) {
    REQUIRE(std::abs(lab::seconds_of(replayed[i].at - generated[i].at)) < 1e-8);
    REQUIRE(replayed[i].key == generated[i].key);
    REQUIRE(replayed[i].priority == generated[i].priority);
    REQUIRE(replayed[i].timeout == generated[i].timeout);
  }
}

TEST_CASE("CSV traces: a malformed line is an error that names the file, the line and the column", "[lab][trace]") {
  CHECK_THAT(error_of("0.1,1,0,0\nsoon,1,0,0\n"), Catch::StartsWith("t.csv:2: column 1 (arrival_s): 'soon'"));
  CHECK_THAT(error_of("# header-less\n0.1\n0.2,999\n"), Catch::StartsWith("t.csv:3: column 2 (priority): '999'"));
  CHECK_THAT(error_of("0.1,1,-4\n"), Catch::StartsWith("t.csv:1: column 3 (key): '-4'"));
  CHECK_THAT(error_of("0.1,1,0,soon\n"), Catch::StartsWith("t.csv:1: column 4 (deadline_ms): 'soon'"));
  CHECK_THAT(error_of("0.1,1,0,0,9\n"), Catch::StartsWith("t.csv:1: too many columns"));
  CHECK_THAT(error_of("0.5\n0.2\n"), Catch::StartsWith("t.csv:2:") && Catch::Contains("earlier than the previous"));
  CHECK_THAT(error_of("time,priority\n0.1\n-1\n"), Catch::StartsWith("t.csv:3: column 1"));
  try {
    lab::make_source(lab::parse_trace_spec("csv:/nonexistent/trace.csv"), 1);
    FAIL("no error for a missing file");
  } catch (const lab::input_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/trace.csv") && Catch::Contains("cannot be opened"));
  }
}
