// compute_tests — dense_forward split over an executor's threads: same results as on one thread (bit for bit:
// every output is computed by the same sequence of operations whichever thread runs it), the split chosen by batch
// size, and no deadlock when the executor's only thread is the caller.
#include "reference.hpp"

#include <powerbatch/compute/dense.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <vector>

namespace compute_tests {
namespace {

template <typename Layer>
void check_split_matches_serial(const Layer& layer, const layer_data& d, const compute::parallel_options& options) {
  std::vector<float> serial(d.batch * d.out), split(d.batch * d.out, -1.0f);
  compute::dense_forward_serial(layer, d.x.data(), d.batch, serial.data(), compute::activation::relu);
  compute::dense_forward(layer, d.x.data(), d.batch, split.data(), compute::activation::relu, options);
  REQUIRE(split == serial);
}

}  // namespace

TEST_CASE("plan_split: rows for big batches, output panels for small ones, one part for small work",
          "[compute][parallel]") {
  boost::asio::thread_pool pool(1);
  const compute::parallel_options two{pool.get_executor(), 2, 16};
  // Two parts per thread, taken first come first served.
  const auto small_batch = compute::detail::plan_split(1, 1024, 1024, 64, two);
  CHECK(small_batch.parts == 4);
  CHECK_FALSE(small_batch.by_rows);
  CHECK(small_batch.part(0, 1, 64).panel_begin == 0);
  CHECK(small_batch.part(0, 1, 64).panel_end == 16);
  CHECK(small_batch.part(3, 1, 64).panel_begin == 48);
  CHECK(small_batch.part(3, 1, 64).panel_end == 64);
  CHECK(small_batch.part(3, 1, 64).row_end == 1);
  const auto big_batch = compute::detail::plan_split(64, 1024, 1024, 64, two);
  CHECK(big_batch.parts == 4);
  CHECK(big_batch.by_rows);
  CHECK(big_batch.part(1, 64, 64).row_begin == 16);
  CHECK(big_batch.part(3, 64, 64).row_end == 64);
  CHECK(big_batch.part(3, 64, 64).panel_end == 64);
  CHECK(compute::detail::plan_split(40, 1024, 1024, 64, two).parts == 2);  // at least min_rows_per_thread rows each
  CHECK(compute::detail::plan_split(1, 64, 10, 1, two).parts == 1);   // too little work to share
  CHECK(compute::detail::plan_split(8, 1024, 1024, 64, {}).parts == 1);  // no executor
  CHECK(compute::detail::plan_split(8, 1024, 1024, 64, {pool.get_executor(), 1, 16}).parts == 1);
  pool.join();
}

TEST_CASE("dense_forward on 2 threads of a thread_pool equals the single-thread result", "[compute][parallel]") {
  boost::asio::thread_pool pool(2);
  const compute::parallel_options options{pool.get_executor(), 2, 16};
  for (std::size_t batch : {0, 1, 3, 8, 31, 32, 100}) {
    const layer_data d = random_layer(515, 300, batch, 40u + unsigned(batch));
    check_split_matches_serial(compute::packed_dense_fp32(d.weights, d.out, d.in, d.bias), d, options);
    check_split_matches_serial(compute::quantize_int8(d.weights, d.out, d.in, d.bias), d, options);
  }
  // Many calls in a row: the split state is recycled between calls without mixing them up.
  const layer_data d = random_layer(256, 256, 4, 77);
  const compute::packed_dense_fp32 layer(d.weights, d.out, d.in, d.bias);
  const compute::parallel_options three{pool.get_executor(), 3, 1};
  for (int k = 0; k < 300; ++k) check_split_matches_serial(layer, d, three);
  pool.join();
}

TEST_CASE("dense_forward with the caller's own single-threaded io_context completes (no deadlock)",
          "[compute][parallel]") {
  boost::asio::io_context io;
  const layer_data d = random_layer(400, 200, 40, 5);
  const compute::packed_dense_fp32 fp32(d.weights, d.out, d.in, d.bias);
  const compute::quantized_dense_int8 int8 = compute::quantize_int8(d.weights, d.out, d.in, d.bias);
  const compute::parallel_options options{io.get_executor(), 4, 1};
  bool ran = false;
  boost::asio::post(io, [&] {
    // Inside the io_context's only thread: the posted helpers cannot run until this handler returns.
    check_split_matches_serial(fp32, d, options);
    check_split_matches_serial(int8, d, options);
    ran = true;
  });
  io.run();
  CHECK(ran);
  // And from a thread that never runs the io_context at all.
  io.restart();
  check_split_matches_serial(fp32, d, options);
  io.run();  // the late helpers find nothing left to do
}

}  // namespace compute_tests
