// lab::random_source — the lab's seeded random numbers: xoshiro256** (fast, good statistics) seeded by splitmix64,
// so a trace is the same on every machine and standard library for the same --seed.
#pragma once

#include <powerbatch/config.hpp>

#include <cmath>
#include <cstdint>

POWERBATCH_BEGIN_NAMESPACE
namespace lab {

class random_source {
 public:
  explicit random_source(std::uint64_t seed = 1) noexcept {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Exponentially distributed with the given mean (> 0).
  double exponential(double mean) noexcept { return -mean * std::log1p(-uniform()); }
  // True with probability p.
  bool chance(double p) noexcept { return uniform() < p; }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return n == 0 ? 0 : next() % n; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4]{};
};

}  // namespace lab
POWERBATCH_END_NAMESPACE
