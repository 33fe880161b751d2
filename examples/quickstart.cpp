// The README's first example, built and run by CI so that it stays true.
#include <powerbatch/powerbatch.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>

namespace pb = powerbatch;

int main() {
  boost::asio::io_context io;
  // Any callable can be a backend: per request (Output(Input&)) or per batch (spans of inputs and outputs).
  auto model = pb::backend::from_function<float, float>([](float& x) { return 2 * x; });
  pb::default_batcher<decltype(model)>::config cfg;
  cfg.timeout.max_batch_size = 32;                     // flush at 32 requests ...
  cfg.timeout.max_delay = std::chrono::milliseconds(2);  // ... or 2 ms after the oldest arrived
  pb::default_batcher<decltype(model)> batcher(io.get_executor(), model, cfg);

  for (int i = 0; i < 100; ++i)
    batcher.async_submit(float(i), pb::request_options{}.with_timeout(std::chrono::milliseconds(50)),
                         [](std::error_code ec, float y) { if (!ec) std::printf("%g ", y); });
  batcher.async_shutdown(pb::shutdown_mode::drain, [] { std::puts("\ndone"); });
  io.run();
}
