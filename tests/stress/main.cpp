// Catch2's main for the stress executable, alone in its file so that editing the tests does not rebuild it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
