// The batcher with real Asio executors and every kind of completion token, on the real clock.
#include "test_support.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <span>
#include <thread>
#include <vector>

using namespace pbtest;

namespace {

auto doubler() {
  return pb::backend::from_function<int, int>([](int& x) { return 2 * x; });
}
using doubler_backend = decltype(doubler());
using real_batcher = pb::default_batcher<doubler_backend>;

real_batcher::config quick_config() {
  real_batcher::config cfg;
  cfg.timeout.max_batch_size = 16;
  cfg.timeout.max_delay = 200us;
  return cfg;
}

}  // namespace

TEST_CASE("completion tokens: callback, use_future, use_awaitable, deferred", "[asio]") {
  pb::runner run(1);
  real_batcher b(run.get_executor(), doubler(), quick_config());

  std::promise<int> from_callback;
  b.async_submit(1, [&](std::error_code ec, int v) { from_callback.set_value(ec ? -1 : v); });
  CHECK(from_callback.get_future().get() == 2);

  auto [future_error, future_value] = b.async_submit(2, asio::use_future).get();
  CHECK_FALSE(future_error);
  CHECK(future_value == 4);

  std::promise<int> from_coroutine;
  asio::co_spawn(
      run.get_executor(),
      [&]() -> asio::awaitable<void> {
        auto [ec, v] = co_await b.async_submit(3, asio::use_awaitable);
        from_coroutine.set_value(ec ? -1 : v);
      },
      asio::detached);
  CHECK(from_coroutine.get_future().get() == 6);

  auto op = b.async_submit(4, asio::deferred);  // nothing submitted until the deferred operation is started
  std::promise<int> from_deferred;
  std::move(op)([&](std::error_code ec, int v) { from_deferred.set_value(ec ? -1 : v); });
  CHECK(from_deferred.get_future().get() == 8);
  CHECK(b.shutdown() == std::error_code{});
}

TEST_CASE("cancelling a coroutine's wait through its cancellation slot", "[asio][cancel]") {
  pb::runner run(1);
  auto cfg = quick_config();
  cfg.timeout.max_delay = 10s;  // nothing would flush in time: only cancellation ends the wait
  real_batcher b(run.get_executor(), doubler(), cfg);
  asio::cancellation_signal signal;
  std::promise<std::error_code> outcome;
  asio::co_spawn(
      run.get_executor(),
      [&]() -> asio::awaitable<void> {
        auto [ec, v] = co_await b.async_submit(5, asio::use_awaitable);
        (void)v;
        outcome.set_value(ec);
      },
      asio::bind_cancellation_slot(signal.slot(), asio::detached));
  std::this_thread::sleep_for(20ms);
  asio::post(run.get_executor(), [&] { signal.emit(asio::cancellation_type::terminal); });
  CHECK(outcome.get_future().get() == pb::errc::cancelled);
  b.shutdown(pb::shutdown_mode::cancel);
}

TEST_CASE("each completion runs on the handler's associated executor", "[asio]") {
  pb::runner run(2);
  real_batcher b(run.get_executor(), doubler(), quick_config());
  auto strand = asio::make_strand(run.get_executor());
  std::promise<bool> on_strand;
  b.async_submit(1, asio::bind_executor(strand, [&](std::error_code, int) {
                   on_strand.set_value(strand.running_in_this_thread());
                 }));
  CHECK(on_strand.get_future().get());
  b.shutdown();
}

TEST_CASE("dispatch on one executor, backend on a thread pool, completions back on the first", "[asio]") {
  pb::runner dispatch(1);
  asio::thread_pool compute(2);
  std::atomic<int> backend_on_pool{0};
  auto backend = pb::backend::from_function<int, int>([&](std::span<int> in, std::span<int> out) {
    backend_on_pool += compute.get_executor().running_in_this_thread();
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] + 1;
  });
  pb::default_batcher<decltype(backend)> b(dispatch.get_executor(), compute.get_executor(), backend);
  std::atomic<int> on_dispatch{0}, sum{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < 100; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    b.async_submit(i, [&, p](std::error_code ec, int v) {
      on_dispatch += dispatch.get_executor().running_in_this_thread();
      if (!ec) sum += v;
      p->set_value();
    });
  }
  for (auto& f : done) f.get();
  CHECK(sum == 5050);
  CHECK(on_dispatch == 100);
  CHECK(backend_on_pool == static_cast<int>(b.stats().batches));
  b.shutdown();
  compute.join();
}

TEST_CASE("a batch reaches the backend in arrival order and completes submitter by submitter", "[asio]") {
  // Two threads take turns submitting, so their requests interleave in one batch. The backend must see them in
  // arrival order (the shared count's admission order, or the counter's ordered read under grouped admission; never
  // the arrival stamps, which may disagree); completions come one submitting thread after the other (each in arrival
  // order), unless the two threads share a submitter group, and then in arrival order. Grouped admission is the
  // one that can get this wrong (stop 16's CI once saw two turns swapped with an unfenced counter read), so it takes
  // many turns.
  const auto admission = GENERATE(pb::admission_mode::shared_count, pb::admission_mode::grouped);
  const int per_thread = admission == pb::admission_mode::grouped ? 1000 : 8;
  CAPTURE(static_cast<int>(admission));
  std::vector<int> backend_saw;
  auto backend = pb::backend::from_function<int, int>([&](std::span<int> in, std::span<int> out) {
    backend_saw.assign(in.begin(), in.end());
    std::copy(in.begin(), in.end(), out.begin());
  });
  asio::io_context io;  // not run until every request is in: one batch of all of them
  pb::default_batcher<decltype(backend)>::config cfg;
  cfg.admission = admission;
  cfg.timeout.max_batch_size = 2 * static_cast<std::size_t>(per_thread);
  cfg.timeout.max_delay = 10s;
  pb::default_batcher<decltype(backend)> b(io.get_executor(), backend, cfg);

  std::vector<int> completed;
  std::atomic<int> turn{0};
  unsigned group[2] = {0, 0};
  auto submitter = [&](int who) {
    group[who] = pb::detail::this_thread_ordinal() % pb::detail::submitter_groups;
    for (int i = 0; i < per_thread; ++i) {
      while (turn.load() != 2 * i + who) std::this_thread::yield();
      b.async_submit(10000 * (who + 1) + i, [&](std::error_code ec, int v) { completed.push_back(ec ? -1 : v); });
      turn.store(2 * i + who + 1);
    }
  };
  std::thread first(submitter, 0), second(submitter, 1);
  first.join();
  second.join();
  io.run_for(5s);
  REQUIRE(completed.size() == 2 * static_cast<std::size_t>(per_thread));

  std::vector<int> arrival_order;
  for (int i = 0; i < per_thread; ++i) {
    arrival_order.push_back(10000 + i);
    arrival_order.push_back(20000 + i);
  }
  CHECK(backend_saw == arrival_order);
  std::vector<int> expected = arrival_order;
  if (group[0] != group[1])
    std::stable_sort(expected.begin(), expected.end(),
                     [&](int a, int b) { return group[a / 10000 - 1] < group[b / 10000 - 1]; });
  CHECK(completed == expected);
  CHECK(b.stats().batches == 1);
  b.async_shutdown(pb::shutdown_mode::drain, [] {});
  io.run_for(1s);
}

TEST_CASE("blocking submit and submit_batch for synchronous callers", "[asio][blocking]") {
  pb::runner run(1);
  real_batcher b(run.get_executor(), doubler(), quick_config());
  auto one = b.submit(21);
  REQUIRE(one.ok());
  CHECK(one.value == 42);
  auto many = b.submit_batch({1, 2, 3, 4, 5});
  REQUIRE(many.ok());
  CHECK(many.value == std::vector<int>{2, 4, 6, 8, 10});
  auto none = b.submit_batch({});
  CHECK(none.ok());
  CHECK(none.value.empty());
  b.shutdown();
  auto after = b.submit(1);
  CHECK(after.error == pb::errc::shutting_down);
  CHECK_THROWS_AS(after.get(), std::system_error);
}

TEST_CASE("a whole batch is admitted all or nothing", "[asio][backpressure]") {
  pb::runner run(1);
  auto cfg = quick_config();
  cfg.admission = GENERATE(pb::admission_mode::shared_count, pb::admission_mode::grouped);
  cfg.queue_capacity = 8;
  real_batcher b(run.get_executor(), doubler(), cfg);
  auto too_big = b.submit_batch(std::vector<int>(9, 1));
  CHECK(too_big.error == pb::errc::queue_full);
  auto fits = b.submit_batch(std::vector<int>(8, 1));
  CHECK(fits.ok());
  CHECK(b.stats().queue_full == 9);
  b.shutdown();
}

TEST_CASE("a queue_capacity beyond 2^30 is refused when the batcher is built", "[asio][backpressure]") {
  pb::runner run(1);
  auto cfg = quick_config();
  cfg.queue_capacity = (std::size_t{1} << 30) + 1;
  CHECK_THROWS_WITH(real_batcher(run.get_executor(), doubler(), cfg),
                    Catch::Matchers::Contains("queue_capacity 1073741825 exceeds the limit of 1073741824"));
}

TEST_CASE("a backend's exception message reaches blocking callers", "[asio][errors]") {
  pb::runner run(1);
  auto failing = pb::backend::from_function<int, int>([](int& x) -> int {
    if (x < 0) throw std::invalid_argument("negative input " + std::to_string(x));
    return x;
  });
  pb::default_batcher<decltype(failing)> b(run.get_executor(), failing);
  auto bad = b.submit(-3);
  CHECK(bad.error == pb::errc::backend_failed);
  CHECK(bad.detail == "negative input -3");
  try {
    bad.get();
    FAIL("get() should throw");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()).find("negative input -3") != std::string::npos);
  }
  auto batch = b.submit_batch({1, -1, 2});
  CHECK(batch.error == pb::errc::backend_failed);
  CHECK(batch.detail == "negative input -1");
  CHECK(b.submit(5).value == 5);  // still serving
  b.shutdown();
}

TEST_CASE("blocking calls from the batcher's own thread answer would_deadlock", "[asio][blocking]") {
  pb::runner run(1);
  real_batcher b(run.get_executor(), doubler(), quick_config());
  std::promise<std::error_code> inside;
  asio::post(run.get_executor(), [&] { inside.set_value(b.submit(1).error); });
  CHECK(inside.get_future().get() == pb::errc::would_deadlock);
  b.shutdown();
}

TEST_CASE("backend max_batch_size caps every batch", "[asio]") {
  asio::io_context ioc;
  std::vector<std::size_t> sizes;
  auto backend = pb::backend::from_function<int, int>(
      [&](std::span<int> in, std::span<int> out) {
        sizes.push_back(in.size());
        std::copy(in.begin(), in.end(), out.begin());
      },
      3);
  pb::default_batcher<decltype(backend)> b(ioc.get_executor(), backend);
  int done = 0;
  for (int i = 0; i < 10; ++i) b.async_submit(i, [&](std::error_code, int) { ++done; });
  ioc.run_for(50ms);
  CHECK(done == 10);
  CHECK(*std::max_element(sizes.begin(), sizes.end()) == 3);
}

TEST_CASE("error codes have a category and readable messages", "[errors]") {
  std::error_code ec = pb::errc::queue_full;
  CHECK(ec.category().name() == std::string("powerbatch"));
  CHECK(ec.message().find("queue full") != std::string::npos);
  CHECK(ec == pb::errc::queue_full);
  CHECK(ec != pb::errc::cancelled);
}
