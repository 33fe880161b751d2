// Helpers for the model tests: a temporary folder removed at the end, raw file writing, and .npy bytes built by
// hand so that each malformed variant is exactly what the test says.
#pragma once

#include <powerbatch/compute/npy.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace model_test {

class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() /
            ("powerbatch_model_test_" + std::to_string(seed()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::filesystem::path& file, const std::string& text) { write_bytes(file, text); }

// A .npy file: magic, version, header length, the header dict padded to 64 bytes with '\n', then `data`.
inline std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1, int minor = 0) {
  std::string header = dict;
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::size_t unpadded = 8 + length_bytes + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += static_cast<char>(minor);
  for (std::size_t i = 0; i < length_bytes; ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

template <class T>
std::string raw(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

inline void save(const std::filesystem::path& file, const std::vector<float>& values,
                 const std::vector<std::size_t>& shape) {
  powerbatch::compute::write_npy<float>(file, values, shape);
}

}  // namespace model_test
