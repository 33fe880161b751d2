// power_platform_tests: Catch2's main. The cases live in one file per header area so that they compile in parallel.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
