// Embedding powerbatch in a service: the service already owns an io_context and its threads; the batcher runs on
// them and starts none of its own. Clients call it the ways a service does — callbacks from network handlers,
// coroutines, and blocking calls from legacy threads — with priorities, deadlines and two models (batching keys).
//
// Usage: embed_in_service [seconds=3] [clients=4]
#include <powerbatch/powerbatch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace pb = powerbatch;
namespace asio = boost::asio;
using namespace std::chrono_literals;

// A small classifier: 64 features -> 32 hidden (ReLU) -> 10 classes. The batch is one pass over the weights,
// which is why batching pays: the weights are read once per batch, not once per request.
class tiny_classifier {
 public:
  using input_type = std::array<float, 64>;
  using output_type = int;  // the predicted class

  tiny_classifier() {
    std::mt19937 rng(7);
    std::normal_distribution<float> w(0.f, 0.2f);
    for (auto& x : hidden_) x = w(rng);
    for (auto& x : output_) x = w(rng);
  }

  void run(std::span<input_type> inputs, std::span<output_type> outputs) {
    for (std::size_t n = 0; n < inputs.size(); ++n) {
      std::array<float, 32> h{};
      for (std::size_t j = 0; j < 32; ++j) {
        float acc = 0;
        for (std::size_t i = 0; i < 64; ++i) acc += hidden_[j * 64 + i] * inputs[n][i];
        h[j] = std::max(acc, 0.f);
      }
      std::array<float, 10> logits{};
      for (std::size_t k = 0; k < 10; ++k)
        for (std::size_t j = 0; j < 32; ++j) logits[k] += output_[k * 32 + j] * h[j];
      outputs[n] = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
  }
  std::size_t max_batch_size() const noexcept { return 64; }

 private:
  std::array<float, 32 * 64> hidden_{};
  std::array<float, 10 * 32> output_{};
};

using service_batcher = pb::default_batcher<tiny_classifier>;

struct latency_log {
  std::mutex mutex;
  std::vector<double> micros;
  void add(std::chrono::steady_clock::duration d) {
    std::lock_guard lock(mutex);
    micros.push_back(std::chrono::duration<double, std::micro>(d).count());
  }
  double percentile(double p) {
    std::lock_guard lock(mutex);
    if (micros.empty()) return 0;
    std::sort(micros.begin(), micros.end());
    return micros[std::min(micros.size() - 1, static_cast<std::size_t>(p * static_cast<double>(micros.size())))];
  }
};

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  if (seconds <= 0 || clients <= 0) {
    std::fprintf(stderr, "usage: %s [seconds>0] [clients>0]\n", argv[0]);
    return 2;
  }

  // The service's own event loop and threads.
  asio::io_context service;
  auto keep_running = asio::make_work_guard(service);
  std::vector<std::thread> service_threads;
  for (int i = 0; i < 2; ++i) service_threads.emplace_back([&] { service.run(); });

  service_batcher::config cfg;
  cfg.queue_capacity = 8192;
  cfg.max_in_flight = 2;
  cfg.timeout.max_batch_size = 32;
  cfg.timeout.max_delay = 2ms;
  // A delay flush would be as late as the timer's wake-up (tens of µs). By default the batcher learns how late its
  // wake-ups come and arms the timer early, aiming to keep 99 % of flushes within cfg.flush_lateness_target (25 µs)
  // of their moment, waiting out the rest busily when it wakes early (at most cfg.max_learned_timer_lead, 200 µs).
  // A smaller target or a fixed cfg.timer_lead buys punctuality with more busy waiting; a larger target spends less;
  // cfg.max_learned_timer_lead = 0 never waits busily.
  service_batcher batcher(service.get_executor(), tiny_classifier{}, cfg);

  latency_log latencies;
  std::atomic<long> ok{0}, failed{0}, outstanding{0};
  const auto stop_at = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto features = [](std::mt19937& rng) {
    std::array<float, 64> x{};
    std::normal_distribution<float> d(0.f, 1.f);
    for (auto& v : x) v = d(rng);
    return x;
  };
  auto record = [&](std::chrono::steady_clock::time_point start, std::error_code ec) {
    if (ec) ++failed; else ++ok;
    latencies.add(std::chrono::steady_clock::now() - start);
  };

  // Clients 0..n-2 behave like network handlers: callbacks, open loop, a deadline per request.
  std::vector<std::thread> client_threads;
  for (int c = 0; c + 1 < clients; ++c)
    client_threads.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      std::exponential_distribution<double> gap(20000.0 / clients);  // ~20 000 requests/s in all
      while (std::chrono::steady_clock::now() < stop_at) {
        if (outstanding.load() > 4000) {  // client-side flow control, like a connection limit
          std::this_thread::yield();
          continue;
        }
        pb::request_options o;
        o.priority = rng() % 20 == 0 ? pb::priority_levels::high : pb::priority_levels::normal;
        o.timeout = 50ms;
        o.key = rng() % 4 == 0 ? 1 : 0;  // two models: never batched together
        const auto start = std::chrono::steady_clock::now();
        ++outstanding;
        batcher.async_submit(features(rng), o, [&, start](std::error_code ec, int) {
          record(start, ec);
          --outstanding;
        });
        std::this_thread::sleep_for(std::chrono::duration<double>(gap(rng)));
      }
    });

  // One coroutine client on the service's executor, and the last thread is a legacy blocking caller.
  asio::co_spawn(
      service,
      [&]() -> asio::awaitable<void> {
        std::mt19937 rng(99);
        asio::steady_timer pause(co_await asio::this_coro::executor);
        while (std::chrono::steady_clock::now() < stop_at) {
          const auto start = std::chrono::steady_clock::now();
          auto [ec, cls] = co_await batcher.async_submit(features(rng), asio::use_awaitable);
          (void)cls;
          record(start, ec);
          pause.expires_after(500us);
          co_await pause.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
  client_threads.emplace_back([&] {
    std::mt19937 rng(123);
    while (std::chrono::steady_clock::now() < stop_at) {
      const auto start = std::chrono::steady_clock::now();
      auto result = batcher.submit(features(rng), pb::request_options{}.with_priority(pb::priority_levels::low));
      record(start, result.error);
    }
  });

  for (auto& t : client_threads) t.join();
  batcher.shutdown(pb::shutdown_mode::drain);  // runs what is still waiting; returns when all completed
  keep_running.reset();
  for (auto& t : service_threads) t.join();

  const auto s = batcher.stats();
  std::printf("powerbatch embedded in a service: %d clients for %.1f s on 2 service threads\n\n", clients, seconds);
  std::printf("  requests completed   %10ld  (%.0f/s)\n", ok.load(), static_cast<double>(ok.load()) / seconds);
  std::printf("  requests failed      %10ld  (expired %llu, queue full %llu, backend %llu)\n", failed.load(),
              static_cast<unsigned long long>(s.deadline_expired), static_cast<unsigned long long>(s.queue_full),
              static_cast<unsigned long long>(s.backend_failed));
  std::printf("  latency p50 / p99    %10.0f / %.0f us\n", latencies.percentile(0.5), latencies.percentile(0.99));
  std::printf("  batches              %10llu  (mean size %.1f)\n", static_cast<unsigned long long>(s.batches),
              s.mean_batch_size());
  std::printf("  flushed by           ");
  for (std::size_t r = 0; r < pb::flush_reason_count; ++r)
    if (s.flushes_by_reason[r])
      std::printf("%s %llu  ", pb::to_string(static_cast<pb::flush_reason>(r)),
                  static_cast<unsigned long long>(s.flushes_by_reason[r]));
  std::printf("\n  dispatcher wake-ups  %10llu  (%.3f per request)\n",
              static_cast<unsigned long long>(s.dispatcher_wakeups),
              static_cast<double>(s.dispatcher_wakeups) / static_cast<double>(std::max<std::uint64_t>(1, s.submitted)));
  std::printf("  busy waits (lead)    %10llu  (%.0f us in all; lead learned: %.1f us)\n",
              static_cast<unsigned long long>(s.busy_waits),
              std::chrono::duration<double, std::micro>(s.busy_wait_time).count(),
              std::chrono::duration<double, std::micro>(s.timer_lead).count());
  // The promise this program checks: every request completed exactly once.
  const bool exact = s.submitted == s.finished() && static_cast<std::uint64_t>(ok + failed) == s.submitted;
  std::printf("  exactly once         %10s  (submitted %llu, finished %llu)\n", exact ? "yes" : "NO",
              static_cast<unsigned long long>(s.submitted), static_cast<unsigned long long>(s.finished()));
  return exact ? 0 : 1;
}
