// A CMake project (find_package) using powerbatch: submits a few requests through a Batcher and checks every result.
#include <powerbatch/powerbatch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <system_error>

namespace pb = powerbatch;

int main() {
  boost::asio::io_context io;
  auto backend = pb::backend::from_function<int, int>([](int& x) { return x * x; });
  pb::default_batcher<decltype(backend)> batcher(io.get_executor(), backend);

  int completed = 0;
  int wrong = 0;
  for (int i = 0; i < 10; ++i) {
    batcher.async_submit(i, pb::request_options{}, [&, i](std::error_code error, int square) {
      ++completed;
      if (error || square != i * i) ++wrong;
    });
  }
  auto future = batcher.async_submit(12, pb::request_options{}, boost::asio::use_future);
  batcher.async_shutdown(pb::shutdown_mode::drain, [] {});
  io.run();

  auto [error, square] = future.get();
  if (completed != 10 || wrong != 0 || error || square != 144) {
    std::printf("FAIL: %d completed, %d wrong, future: %s %d\n", completed, wrong, error.message().c_str(), square);
    return 1;
  }
  std::printf("cmake consumer: 11 requests in %llu batch(es), all correct\n",
              static_cast<unsigned long long>(batcher.stats().batches));
  return 0;
}
