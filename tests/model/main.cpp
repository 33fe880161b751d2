// The model area's test runner (Catch2 2.13).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
