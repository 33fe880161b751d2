// backend::tensor_batch and backend::tensor_function: a tensor backend runs under a real Batcher (producer threads,
// an io_context on two threads), samples are gathered into pooled buffers and scattered back in order, the optional
// scaling stage standardises inputs, and a wrong-length sample is refused at submission.
#include <powerbatch/backend/cpu_mlp.hpp>
#include <powerbatch/backend/tensor.hpp>
#include <powerbatch/batcher.hpp>
#include <powerbatch/compute/npy.hpp>
#include <powerbatch/defaults.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pb = powerbatch;
namespace compute = powerbatch::compute;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path digits_dir = POWERBATCH_DIGITS_DIR;

// y = 2x over rows of 3, recording every batch size it saw.
struct doubling {
  struct record {
    std::mutex mutex;
    std::vector<std::size_t> sizes;
  };
  std::shared_ptr<record> seen = std::make_shared<record>();
  void operator()(const float* in, std::size_t batch, float* out) const {
    {
      std::lock_guard lock(seen->mutex);
      seen->sizes.push_back(batch);
    }
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t c = 0; c < 3; ++c) out[r * 3 + c] = 2 * in[r * 3 + c];
  }
};

// An io_context run by two threads for the test's duration.
struct running_io {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
  running_io() {
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~running_io() {
    work.reset();
    for (auto& t : threads) t.join();
  }
};

}  // namespace

static_assert(pb::tensor_backend<pb::backend::cpu_mlp>);
static_assert(pb::batch_backend<pb::backend::tensor_batch<pb::backend::cpu_mlp>>);
static_assert(pb::diagnose_backend<pb::backend::tensor_batch<pb::backend::cpu_mlp>>());
static_assert(pb::diagnose_tensor_backend<pb::backend::tensor_function<float, doubling>>());
static_assert(pb::has_max_batch_size<pb::backend::tensor_batch<pb::backend::cpu_mlp>>);

TEST_CASE("tensor_batch: gathers, runs and scatters a batch in order; splits above max_batch_size", "[tensor]") {
  doubling f;
  auto seen = f.seen;
  pb::backend::tensor_batch backend(pb::backend::tensor_from_function<float>(f, {3}, {3}, 4));
  CHECK(backend.max_batch_size() == 4);
  CHECK(backend.input_width() == 3);
  std::vector<std::vector<float>> inputs;
  for (int i = 0; i < 10; ++i) inputs.push_back({float(i), float(i) + 0.5f, -float(i)});
  std::vector<std::vector<float>> outputs(10);
  backend.run(inputs, outputs);
  CHECK(seen->sizes == std::vector<std::size_t>{4, 4, 2});
  for (int i = 0; i < 10; ++i) CHECK(outputs[i] == std::vector<float>{2.0f * i, 2.0f * i + 1, -2.0f * i});

  // The same shapes again: the pooled buffers come back.
  backend.run(inputs, outputs);
  const auto stats = backend.pool_stats();
  CHECK(stats.misses == 4);  // [4,3] and [2,3], input and output
  CHECK(stats.hits == 8);
  CHECK(stats.buffers_leased == 0);
}

TEST_CASE("tensor_batch: a sample of the wrong length is refused, naming it", "[tensor][errors]") {
  pb::backend::tensor_batch backend(pb::backend::tensor_from_function<float>(doubling{}, {3}, {3}));
  std::vector<std::vector<float>> inputs = {{1, 2, 3}, {1, 2}}, outputs(2);
  CHECK(backend.accepts(inputs[0]));
  CHECK_FALSE(backend.accepts(inputs[1]));
  CHECK_THROWS_WITH(backend.run(inputs, outputs),
                    Contains("request 1 of this batch has 2 values, the backend takes 3"));
}

TEST_CASE("tensor_batch: the scaling stage standardises inputs while gathering", "[tensor][scaling]") {
  auto identity = [](const float* in, std::size_t batch, float* out) { std::copy(in, in + batch * 2, out); };
  pb::backend::tensor_batch_options<> options;
  options.scaling = compute::feature_scaling({1.0f, -2.0f}, {2.0f, 0.5f});
  pb::backend::tensor_batch backend(pb::backend::tensor_from_function<float>(identity, {2}, {2}), options);
  std::vector<std::vector<float>> inputs = {{3, -2}, {1, 0}}, outputs(2);
  backend.run(inputs, outputs);
  CHECK(outputs[0] == std::vector<float>{1.0f, 0.0f});
  CHECK(outputs[1] == std::vector<float>{0.0f, 4.0f});

  pb::backend::tensor_batch_options<> wrong;
  wrong.scaling = compute::feature_scaling({0, 0, 0}, {1, 1, 1});
  CHECK_THROWS_WITH((pb::backend::tensor_batch(pb::backend::tensor_from_function<float>(identity, {2}, {2}), wrong)),
                    Contains("feature scaling has 3 features, the backend's input has 2"));
  CHECK_THROWS_AS(compute::feature_scaling({0, 0}, {1, 0}), std::invalid_argument);
}

TEST_CASE("tensor_batch: the pool's byte limit fails only the batch that passes it", "[tensor][pool]") {
  pb::backend::tensor_batch_options<> options;
  options.pool.max_bytes = 4 * 3 * sizeof(float) * 2;  // room for one batch of 4, input and output
  pb::backend::tensor_batch backend(pb::backend::tensor_from_function<float>(doubling{}, {3}, {3}), options);
  std::vector<std::vector<float>> four(4, std::vector<float>{1, 2, 3}), five(5, std::vector<float>{1, 2, 3});
  std::vector<std::vector<float>> out4(4), out5(5);
  backend.run(four, out4);
  CHECK_THROWS_WITH(backend.run(five, out5), Contains("limit of 96 bytes"));
  backend.run(four, out4);
  CHECK(out4[3] == std::vector<float>{2, 4, 6});
}

TEST_CASE("tensor_batch: the digits model under a real Batcher, from several threads", "[tensor][batcher]") {
  const auto x = compute::read_npy_float32(digits_dir / "X_test.npy");
  const std::size_t count = x.shape[0];
  auto model = pb::backend::cpu_mlp::load(digits_dir, pb::backend::mlp_precision::fp32, {.max_batch_size = 32});
  std::vector<float> direct(count * 10);
  model.forward(x.values.data(), count, direct.data());

  using backend_type = pb::backend::tensor_batch<pb::backend::cpu_mlp>;
  backend_type backend(model);
  backend.warm_up();
  running_io io;
  pb::default_batcher<backend_type>::config cfg;
  cfg.timeout.max_batch_size = 64;  // the backend's 32 caps it
  cfg.timeout.max_delay = std::chrono::milliseconds(1);
  pb::default_batcher<backend_type> batcher(io.io.get_executor(), backend, cfg);

  std::vector<std::vector<float>> results(count);
  std::vector<std::error_code> errors(count);
  std::atomic<std::size_t> done{0};
  std::vector<std::thread> producers;
  for (std::size_t t = 0; t < 4; ++t)
    producers.emplace_back([&, t] {
      for (std::size_t i = t; i < count; i += 4) {
        std::vector<float> sample(x.values.begin() + long(i * 64), x.values.begin() + long(i * 64 + 64));
        batcher.async_submit(std::move(sample), [&, i](std::error_code ec, std::vector<float> y) {
          errors[i] = ec;
          results[i] = std::move(y);
          done.fetch_add(1, std::memory_order_release);
        });
      }
    });
  for (auto& p : producers) p.join();
  CHECK_FALSE(batcher.shutdown(pb::shutdown_mode::drain));
  REQUIRE(done.load(std::memory_order_acquire) == count);
  for (std::size_t i = 0; i < count; ++i) {
    REQUIRE_FALSE(errors[i]);
    REQUIRE(results[i].size() == 10);
    for (std::size_t c = 0; c < 10; ++c) REQUIRE(results[i][c] == Approx(direct[i * 10 + c]).margin(1e-6));
  }
  const auto stats = batcher.stats();
  CHECK(stats.batches >= count / 32);
  CHECK(stats.mean_batch_size() <= 32.0);
}

TEST_CASE("tensor_batch: a wrong-length sample is refused at submission and fails no batch", "[tensor][batcher]") {
  using backend_type = pb::backend::tensor_batch<pb::backend::tensor_function<float, doubling>>;
  static_assert(pb::validates_input<backend_type>);
  running_io io;
  pb::default_batcher<backend_type>::config cfg;
  cfg.timeout.max_batch_size = 3;
  cfg.timeout.max_delay = std::chrono::seconds(10);  // only a full batch of three leaves
  pb::default_batcher<backend_type> batcher(
      io.io.get_executor(), backend_type(pb::backend::tensor_from_function<float>(doubling{}, {3}, {3})), cfg);
  std::vector<std::pair<std::error_code, std::vector<float>>> results(4);
  std::atomic<int> done{0};
  const std::vector<std::vector<float>> samples = {{1, 2, 3}, {1, 2}, {4, 5, 6}, {7, 8, 9}};
  for (std::size_t i = 0; i < samples.size(); ++i)
    batcher.async_submit(samples[i], [&, i](std::error_code ec, std::vector<float> y) {
      results[i] = {ec, std::move(y)};
      done.fetch_add(1);
    });
  // submit_batch is all or nothing: one bad sample refuses the whole call.
  const auto whole = batcher.submit_batch({{1, 2, 3}, {1}});
  CHECK(whole.error == pb::errc::invalid_argument);
  CHECK_FALSE(batcher.shutdown(pb::shutdown_mode::drain));
  REQUIRE(done.load() == 4);
  CHECK(results[1].first == pb::errc::invalid_argument);
  CHECK(results[0] == std::pair<std::error_code, std::vector<float>>{{}, {2, 4, 6}});
  CHECK(results[2] == std::pair<std::error_code, std::vector<float>>{{}, {8, 10, 12}});
  CHECK(results[3] == std::pair<std::error_code, std::vector<float>>{{}, {14, 16, 18}});
  const auto stats = batcher.stats();
  CHECK(stats.invalid_input == 3);
  CHECK(stats.backend_failed == 0);
  CHECK(stats.batches == 1);  // the three good samples, together
}
