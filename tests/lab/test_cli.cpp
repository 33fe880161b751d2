// The powerbatch-lab command line: argument errors name what is wrong and list the valid names; the JSON has the
// documented keys, consistent with the results.
#include <powerbatch/lab/cli.hpp>
#include <powerbatch/power/profiles.hpp>
#include <powerbatch/timeout/size_or_delay.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pb = powerbatch;
namespace lab = powerbatch::lab;

namespace {

struct fixture {
  lab::policy_registry policies;
  lab::model_registry models;
  fixture() {
    policies.add(lab::make_policy_set<pb::power::max_performance<pb::timeout::size_or_delay>>("max_performance"));
    policies.add(lab::make_policy_set<pb::power::balanced<pb::timeout::size_or_delay>>("balanced"));
    lab::add_builtin_models(models);
  }
  std::string error(std::vector<std::string> args) const {
    try {
      lab::parse_cli(args, policies, models);
    } catch (const lab::input_error& e) {
      return e.what();
    }
    return "no error";
  }
};

}  // namespace

TEST_CASE("CLI: defaults and options", "[lab][cli]") {
  fixture f;
  f.policies.add(lab::make_policy_set<pb::timeout::size_or_delay>("power_saver"));  // the default list's third name
  f.models.add("digits", "stand-in", [](const std::string&) { return lab::noop_model(); });
  const auto o = lab::parse_cli(std::vector<std::string>{}, f.policies, f.models);
  CHECK(o.command == "run");
  CHECK(o.trace == lab::default_trace);
  CHECK(o.html_path == "report.html");
  const auto s = lab::parse_cli(std::vector<std::string>{"simulate", "--trace", "poisson:rate=5", "--profiles", "balanced",
                                                         "--backend", "spin:a=1us,b=2us", "--seed", "42", "--cost",
                                                         "a=5us,b=50us", "--no-html", "--json", "x.json"},
                                f.policies, f.models);
  CHECK(s.command == "simulate");
  CHECK(s.seed == 42);
  CHECK(s.html_path.empty());
  CHECK(s.json_path == "x.json");
  CHECK(lab::parse_cli(std::vector<std::string>{"--help"}, f.policies, f.models).help);
  const std::string help = lab::usage(f.policies, f.models);
  CHECK_THAT(help, Catch::Contains("bursty:low=50,high=800,mean_low=2s,mean_high=0.5s,duration=20s") &&
                       Catch::Contains("csv:FILE") && Catch::Contains("balanced") && Catch::Contains("spin"));
}

TEST_CASE("CLI: unknown names and bad values are errors that list what is valid", "[lab][cli]") {
  fixture f;
  CHECK_THAT(f.error({"simulate", "--profiles", "balanced,turbo", "--backend", "noop"}),
             Catch::Contains("unknown profile 'turbo'") && Catch::Contains("valid: max_performance, balanced"));
  CHECK_THAT(f.error({"run", "--profiles", "balanced", "--backend", "tpu"}),
             Catch::Contains("unknown backend 'tpu'") && Catch::Contains("valid: noop, spin"));
  CHECK_THAT(f.error({"walk"}), Catch::Contains("unknown command 'walk' (valid: run, simulate)"));
  CHECK_THAT(f.error({"run", "--fast"}), Catch::Contains("unknown option '--fast'") && Catch::Contains("--trace"));
  CHECK_THAT(f.error({"run", "--trace"}), Catch::Contains("option --trace needs a value"));
  CHECK_THAT(f.error({"run", "--profiles", "balanced", "--backend", "noop", "--trace", "poisson:rat=3"}),
             Catch::Contains("unknown field 'rat'"));
  CHECK_THAT(f.error({"run", "--profiles", "balanced", "--backend", "noop", "--seed", "x1"}),
             Catch::Contains("--seed: 'x1' is not an integer"));
  CHECK_THAT(f.error({"run", "--profiles", "balanced", "--backend", "noop", "--cost", "a=1us,b=1us"}),
             Catch::Contains("--cost applies to simulate only"));
  CHECK_THAT(f.error({"simulate", "--profiles", "balanced", "--backend", "noop", "--cost", "a=1us"}),
             Catch::Contains("give both a (per item) and b (fixed)"));
  CHECK_THAT(f.error({"simulate", "--profiles", ",", "--backend", "noop"}), Catch::Contains("no profile given"));
}

TEST_CASE("CLI: simulate writes JSON with the documented keys, consistent with the table", "[lab][cli]") {
  fixture f;
  const auto dir = std::filesystem::temp_directory_path() / "powerbatch_lab_cli_test";
  std::filesystem::create_directories(dir);
  const std::string json = (dir / "out.json").string(), html = (dir / "out.html").string();
  const auto o = lab::parse_cli(std::vector<std::string>{"simulate", "--trace", "poisson:rate=400,duration=20s",
                                                         "--profiles", "max_performance,balanced", "--backend",
                                                         "spin:a=20us,b=200us", "--json", json, "--html", html,
                                                         "--no-progress"},
                                f.policies, f.models);
  std::FILE* sink = std::tmpfile();
  const auto results = lab::run_cli(o, f.policies, f.models, sink);
  std::fclose(sink);
  REQUIRE(results.size() == 2);
  std::ifstream in(json);
  std::stringstream text;
  text << in.rdbuf();
  const std::string j = text.str();
  CHECK_THAT(j, Catch::Contains("\"mode\": \"simulate\"") && Catch::Contains("\"backend\": \"spin\""));
  for (const char* key : {"profile", "requests", "p50_ms", "p99_ms", "throughput_rps", "mean_batch",
                          "wakeups_per_request", "energy_mj_per_request"})
    CHECK_THAT(j, Catch::Contains(std::string("\"") + key + "\": "));
  for (const auto& r : results) {
    CHECK_THAT(j, Catch::Contains("{\"profile\": \"" + r.profile + "\", \"requests\": " + std::to_string(r.requests)));
    CHECK(r.requests > 7000);
    CHECK(r.completed == r.requests);
  }
  CHECK(results[0].requests == results[1].requests);  // the same trace for both
  std::ifstream page(html);
  std::stringstream page_text;
  page_text << page.rdbuf();
  CHECK_THAT(page_text.str(), Catch::Contains("<html") && Catch::Contains("balanced"));
  std::filesystem::remove_all(dir);
}
