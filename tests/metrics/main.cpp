// The metrics test executable's entry point (Catch2); the cases live in one file per header.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
