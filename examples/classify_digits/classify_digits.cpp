// Classifies the held-out 8x8 digits (examples/models/digits) through a Batcher, from several client threads at
// once, and prints accuracy, throughput and the mean batch size the batcher formed.
//
// The model folder holds a manifest, .npy weights and the test split (see examples/models/digits/train.py). The
// backend is the CPU MLP (fp32, or int8 / weight-only int4 / bf16 quantised after loading) behind backend::tensor_batch, which gathers each
// batch's samples into one pooled buffer, runs the model over it and hands each client its row of probabilities.
//
// Each client keeps up to `window` requests in flight (a closed loop, as callers of a service do), so the batcher
// sees clients x window requests at a time and never has to refuse one.
//
// Usage: classify_digits [model_dir] [clients=4] [precision=fp32|int8|int4|bf16] [passes=20] [window=32]
// Exits with status 1 if the accuracy is below 0.95 or any request failed.
#include <powerbatch/backend/cpu_mlp.hpp>
#include <powerbatch/backend/tensor.hpp>
#include <powerbatch/compute/npy.hpp>
#include <powerbatch/powerbatch.hpp>
#include <powerbatch/runner.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <semaphore>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pb = powerbatch;
using namespace std::chrono_literals;

#ifndef POWERBATCH_DIGITS_DIR
#define POWERBATCH_DIGITS_DIR "examples/models/digits"
#endif

int main(int argc, char** argv) try {
  const std::filesystem::path model_dir = argc > 1 && *argv[1] ? argv[1] : POWERBATCH_DIGITS_DIR;
  const std::size_t clients = argc > 2 ? std::max(1, std::atoi(argv[2])) : 4;
  const std::string_view precision_name = argc > 3 ? argv[3] : "fp32";
  const std::size_t passes = argc > 4 ? std::max(1, std::atoi(argv[4])) : 20;
  const std::size_t window = argc > 5 ? std::max(1, std::atoi(argv[5])) : 32;
  if (precision_name != "fp32" && precision_name != "int8" && precision_name != "int4" && precision_name != "bf16") {
    std::fprintf(stderr, "precision must be fp32, int8, int4 or bf16, not '%s'\n", argv[3]);
    return 2;
  }
  const auto precision = precision_name == "int8"   ? pb::backend::mlp_precision::int8
                         : precision_name == "int4" ? pb::backend::mlp_precision::int4
                         : precision_name == "bf16" ? pb::backend::mlp_precision::bf16
                                                    : pb::backend::mlp_precision::fp32;

  // The held-out split: raw pixels (the model standardises them itself) and labels.
  const auto images = pb::compute::read_npy_float32(model_dir / "X_test.npy");
  const auto labels = pb::compute::read_npy_int64(model_dir / "y_test.npy");
  const std::size_t count = labels.values.size();
  const std::size_t width = images.shape.size() == 2 ? images.shape[1] : 0;

  // The model, checked on known inputs before it serves (seed 003's validate_model), and warmed up (seed 002).
  auto model = pb::backend::cpu_mlp::load(model_dir, precision, {.max_batch_size = 64});
  if (const auto check = model.validate(images.values, labels.values, 0.95); !check.ok) {
    std::fprintf(stderr, "validation failed: %s\n", check.message.c_str());
    return 1;
  }
  using backend_type = pb::backend::tensor_batch<pb::backend::cpu_mlp>;
  backend_type backend(std::move(model), {.pool = {.max_bytes = 16u << 20}});
  backend.warm_up();

  pb::runner threads(2);  // the batcher's executor: dispatch and compute
  pb::default_batcher<backend_type>::config cfg;
  cfg.timeout.max_batch_size = 64;
  cfg.timeout.max_delay = 500us;
  pb::default_batcher<backend_type> batcher(threads.get_executor(), backend, cfg);

  std::atomic<std::size_t> correct{0}, failed{0}, answered{0};
  const auto start = std::chrono::steady_clock::now();
  // One window per client; they outlive every completion handler (the drain below waits for the last one).
  std::vector<std::unique_ptr<std::counting_semaphore<>>> windows;
  for (std::size_t c = 0; c < clients; ++c)
    windows.push_back(std::make_unique<std::counting_semaphore<>>(static_cast<std::ptrdiff_t>(window)));
  std::vector<std::thread> client_threads;
  for (std::size_t c = 0; c < clients; ++c)
    client_threads.emplace_back([&, c] {
      std::counting_semaphore<>& slots = *windows[c];
      for (std::size_t pass = 0; pass < passes; ++pass)
        for (std::size_t i = c; i < count; i += clients) {
          slots.acquire();
          std::vector<float> image(images.values.begin() + long(i * width),
                                   images.values.begin() + long((i + 1) * width));
          batcher.async_submit(std::move(image),
                               [&, label = labels.values[i]](std::error_code ec, std::vector<float> p) {
                                 if (ec) {
                                   if (failed.fetch_add(1) == 0)
                                     std::fprintf(stderr, "request failed: %s\n", ec.message().c_str());
                                 } else if (std::max_element(p.begin(), p.end()) - p.begin() == label) {
                                   correct.fetch_add(1, std::memory_order_relaxed);
                                 }
                                 answered.fetch_add(1, std::memory_order_release);
                                 slots.release();
                               });
        }
    });
  for (auto& t : client_threads) t.join();
  batcher.shutdown(pb::shutdown_mode::drain);  // returns when every request has completed
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::size_t total = answered.load(std::memory_order_acquire);
  const auto stats = batcher.stats();
  const auto pool = backend.pool_stats();
  const double accuracy = double(correct.load()) / double(total);
  std::printf("model      %s (%s), %zu held-out images x %zu passes, %zu client threads x %zu in flight\n",
              model_dir.string().c_str(), std::string(precision_name).c_str(), count, passes, clients, window);
  std::printf("accuracy   %.4f (%zu of %zu correct, %zu failed)\n", accuracy, correct.load(), total, failed.load());
  std::printf("throughput %.0f requests/s (%.3f s)\n", double(total) / seconds, seconds);
  std::printf("batches    %llu, mean batch size %.1f\n", static_cast<unsigned long long>(stats.batches),
              stats.mean_batch_size());
  std::printf("pool       %llu hits, %llu misses, peak %zu bytes\n", static_cast<unsigned long long>(pool.hits),
              static_cast<unsigned long long>(pool.misses), pool.peak_bytes);
  return (accuracy >= 0.95 && failed.load() == 0 && total == count * passes) ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "classify_digits: %s\n", e.what());
  return 1;
}
