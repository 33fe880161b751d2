// lab_tests: the policy lab (traces, simulation, real-time runs, CLI). Catch2's main only; the tests are in the
// other TUs, which compile in parallel.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
