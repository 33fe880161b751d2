// Catch2's main for power_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
