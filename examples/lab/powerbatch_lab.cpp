// powerbatch-lab: compares batching policy sets on a request trace, in real time or in simulation.
//
//   powerbatch-lab                                   the default scenario: digits model, bursty trace, ~20 s,
//                                                    max_performance vs balanced vs power_saver; writes report.html
//   powerbatch-lab simulate --trace diurnal:mean=100,peak=3,duration=24h --profiles all --backend mlp1024
//   powerbatch-lab --help                            the trace syntax, every profile and backend
//
// The policy sets are registered in lab_policies_power.cpp and lab_policies_plain.cpp (two TUs compile in parallel).
#include "lab_registries.hpp"

#include <powerbatch/lab/cli.hpp>
#include <powerbatch/lab/models.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace lab = powerbatch::lab;

#ifndef POWERBATCH_LAB_DIGITS_DIR
#define POWERBATCH_LAB_DIGITS_DIR "examples/models/digits"
#endif

int main(int argc, char** argv) {
  lab::policy_registry policies;
  register_power_profiles(policies);
  register_timeout_policies(policies);
  lab::model_registry models;
  lab::add_builtin_models(models);
  const char* digits_dir = std::getenv("POWERBATCH_DIGITS_DIR");
  lab::add_mlp_models(models, digits_dir ? digits_dir : POWERBATCH_LAB_DIGITS_DIR);

  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    const lab::cli_options options = lab::parse_cli(args, policies, models);
    if (options.help) {
      std::fputs(lab::usage(policies, models).c_str(), stdout);
      return 0;
    }
    lab::run_cli(options, policies, models, stdout);
    return 0;
  } catch (const lab::input_error& e) {
    std::fprintf(stderr, "powerbatch-lab: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "powerbatch-lab: %s\n", e.what());
    return 1;
  }
}
