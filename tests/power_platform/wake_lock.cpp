// Wake locks: the counting fake and the RAII guard (released on exceptions), nesting, application callbacks,
// and the logind inhibitor without a system bus.
#include <powerbatch/power/wake_lock.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace power = powerbatch::power;

TEST_CASE("scoped wake lock: held for the scope, released on exception", "[wake_lock]") {
  power::counting_wake_lock lock;
  {
    power::scoped_wake_lock guard(lock);
    CHECK(guard.owns_lock());
    CHECK(lock.currently_held() == 1);
  }
  CHECK(lock.currently_held() == 0);

  CHECK_THROWS_AS(
      [&] {
        power::scoped_wake_lock guard(lock);
        throw std::runtime_error("backend failed");
      }(),
      std::runtime_error);
  CHECK(lock.acquisitions() == 2);
  CHECK(lock.releases() == 2);
  CHECK(lock.currently_held() == 0);
}

TEST_CASE("scoped wake lock: early release and move release exactly once", "[wake_lock]") {
  power::counting_wake_lock lock;
  {
    power::scoped_wake_lock guard(lock);
    guard.release();
    CHECK_FALSE(guard.owns_lock());
    CHECK(lock.currently_held() == 0);
    guard.release();  // no second release
  }
  CHECK(lock.releases() == 1);
  {
    power::scoped_wake_lock first(lock);
    power::scoped_wake_lock second(std::move(first));
    CHECK_FALSE(first.owns_lock());
    CHECK(lock.currently_held() == 1);
  }
  CHECK(lock.acquisitions() == 2);
  CHECK(lock.releases() == 2);
}

TEST_CASE("counting wake lock: concurrent batches nest", "[wake_lock]") {
  power::counting_wake_lock lock;
  std::vector<std::thread> batches;
  for (int t = 0; t < 4; ++t)
    batches.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) power::scoped_wake_lock guard(lock);
    });
  for (auto& b : batches) b.join();
  CHECK(lock.acquisitions() == 4000);
  CHECK(lock.releases() == 4000);
  CHECK(lock.currently_held() == 0);
  CHECK(lock.max_held() >= 1);
  CHECK(lock.max_held() <= 4);
}

TEST_CASE("callback wake lock: the OS lock is taken once for nested holders", "[wake_lock]") {
  int taken = 0, dropped = 0;
  power::callback_wake_lock lock([&] { ++taken; }, [&] { ++dropped; });
  {
    power::scoped_wake_lock a(lock);
    power::scoped_wake_lock b(lock);
    CHECK(lock.held());
    CHECK(taken == 1);
  }
  CHECK(dropped == 1);
  CHECK_FALSE(lock.held());
  lock.release();  // unbalanced: ignored
  CHECK(dropped == 1);
  CHECK(lock.failures() == 0);
}

TEST_CASE("callback wake lock: a throwing callback is counted, never propagated", "[wake_lock][errors]") {
  int dropped = 0;
  power::callback_wake_lock lock([] { throw std::runtime_error("WAKE_LOCK permission missing"); },
                                 [&] { ++dropped; });
  {
    power::scoped_wake_lock guard(lock);
    CHECK_FALSE(lock.held());
  }
  CHECK(dropped == 0);  // nothing was taken, so nothing is dropped
  CHECK(lock.failures() == 1);
  CHECK(lock.last_error() == std::errc::io_error);
  CHECK_THAT(lock.last_error_detail(), Catch::Contains("acquire") && Catch::Contains("WAKE_LOCK permission"));

  power::callback_wake_lock empty;  // no callbacks: a no-op that still nests
  empty.acquire();
  CHECK(empty.held());
  empty.release();
  CHECK_FALSE(empty.held());
}

TEST_CASE("platform wake lock: default-constructible and usable", "[wake_lock]") {
  power::platform_wake_lock lock;
  { power::scoped_wake_lock guard(lock); }
#if defined(__linux__) && !(defined(POWERBATCH_USE_LOGIND) && POWERBATCH_USE_LOGIND)
  STATIC_REQUIRE(std::is_same_v<power::platform_wake_lock, power::no_wake_lock>);
#endif
}

#if defined(POWERBATCH_HAS_LOGIND_INHIBITOR) && defined(PB_TEST_LOGIND)
TEST_CASE("logind inhibitor: without a system bus, construction and acquire report it clearly", "[wake_lock][logind]") {
  // Point sd-bus at a socket that cannot exist, so the result does not depend on the machine running the test.
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/powerbatch-test/system_bus_socket", 1);
  power::logind_inhibitor lock;
  CHECK(lock.init_error() == std::errc::no_such_file_or_directory);
  CHECK_THAT(lock.init_error_detail(), Catch::Contains("system bus") && Catch::Contains("sd_bus_open_system"));
  {
    power::scoped_wake_lock guard(lock);
    CHECK_FALSE(lock.held());
  }
  CHECK(lock.failures() == 1);
  CHECK(lock.last_error() == lock.init_error());
  CHECK_THAT(lock.last_error_detail(), Catch::Contains("system bus"));
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}
#endif

#if defined(POWERBATCH_HAS_LOGIND_INHIBITOR) && defined(PB_TEST_LOGIND)
namespace {
struct fake_logind_state {
  unsigned inhibits = 0, open = 0;
  std::string what, who, why, mode;
};

// Asks fake_logind.py (on the bus DBUS_SYSTEM_BUS_ADDRESS names) what it has seen.
fake_logind_state query_fake_logind() {
  sd_bus* bus = nullptr;
  REQUIRE(::sd_bus_open_system(&bus) >= 0);
  sd_bus_error error{};
  sd_bus_message* reply = nullptr;
  const int r = ::sd_bus_call_method(bus, "org.freedesktop.login1", "/org/freedesktop/login1",
                                     "org.freedesktop.login1.Manager", "PowerbatchTestState", &error, &reply, "");
  INFO((error.message != nullptr ? error.message : ""));
  REQUIRE(r >= 0);
  fake_logind_state s;
  const char *what = nullptr, *who = nullptr, *why = nullptr, *mode = nullptr;
  REQUIRE(::sd_bus_message_read(reply, "uussss", &s.inhibits, &s.open, &what, &who, &why, &mode) >= 0);
  s.what = what, s.who = who, s.why = why, s.mode = mode;
  ::sd_bus_message_unref(reply);
  ::sd_bus_error_free(&error);
  ::sd_bus_flush_close_unref(bus);
  return s;
}

unsigned open_inhibitors_after_settling(unsigned expected) {
  // The fake sees a closed descriptor through its main loop: give it up to 5 s.
  fake_logind_state s = query_fake_logind();
  for (int i = 0; i < 100 && s.open != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s = query_fake_logind();
  }
  return s.open;
}
}  // namespace

// Hidden: run by fake_logind.py, which serves a fake logind on a private bus.
TEST_CASE("logind inhibitor: takes one sleep inhibitor for nested holders and closes it (fake logind)",
          "[.][logind_live]") {
  REQUIRE(std::getenv("PB_FAKE_LOGIND") != nullptr);
  power::logind_inhibitor::params p;
  p.who = "powerbatch-test";
  p.why = "running a test batch";
  power::logind_inhibitor lock(p);
  INFO(lock.init_error_detail());
  REQUIRE_FALSE(lock.init_error());
  {
    power::scoped_wake_lock outer(lock);
    power::scoped_wake_lock inner(lock);
    INFO(lock.last_error_detail());
    CHECK(lock.held());
    CHECK(lock.failures() == 0);
    const auto s = query_fake_logind();
    CHECK(s.inhibits == 1);
    CHECK(s.open == 1);
    CHECK(s.what == "sleep");
    CHECK(s.who == "powerbatch-test");
    CHECK(s.why == "running a test batch");
    CHECK(s.mode == "block");
  }
  CHECK_FALSE(lock.held());
  CHECK(open_inhibitors_after_settling(0) == 0);

  { power::scoped_wake_lock again(lock); }
  CHECK(query_fake_logind().inhibits == 2);
  CHECK(open_inhibitors_after_settling(0) == 0);

  p.mode = "forever";  // logind refuses it: a counted failure carrying logind's message
  power::logind_inhibitor refused(p);
  { power::scoped_wake_lock guard(refused); }
  CHECK_FALSE(refused.held());
  CHECK(refused.failures() == 1);
  CHECK_THAT(refused.last_error_detail(), Catch::Contains("Inhibit failed") && Catch::Contains("forever"));
}
#endif
