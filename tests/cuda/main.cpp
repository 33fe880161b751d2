// Catch2's runner for the CUDA backend tests, alone so that editing a test does not rebuild it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
