// compute::read_npy — a strict reader (and a small writer) for numpy's .npy files, the format numpy and PyTorch
// users already export weights in (numpy.save, torch.Tensor.numpy()).
//
// Accepted: format versions 1.0, 2.0 and 3.0; C order only; little-endian data.
//   read_npy_float32: '<f4', and '<f8' converted to float (a value outside float's range is an error).
//   read_npy_int64:   any integer dtype ('|i1' '<i2' '<i4' '<i8' '|u1' '<u2' '<u4' '<u8'), for labels.
// Everything else is refused with a model_file_error whose message starts with the file's path and says what is
// wrong: a missing file, a bad magic string, an unknown version, a malformed header, fortran_order True, a dtype
// other than those above (big-endian included), or data shorter or longer than the shape says.
#pragma once

#include <powerbatch/config.hpp>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

POWERBATCH_BEGIN_NAMESPACE
namespace compute {

// A model file (weights, manifest, test data) could not be used. what() names the file (and the line, for text
// files); file() and line() give them apart (line 0: not a line's fault).
class model_file_error : public std::runtime_error {
 public:
  model_file_error(const std::filesystem::path& file, const std::string& what, std::size_t line = 0)
      : std::runtime_error(message(file, what, line)), file_(file), line_(line) {}
  const std::filesystem::path& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }

 private:
  // "file:line: what". Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict on
  // `"literal" + std::string&&`.
  static std::string message(const std::filesystem::path& file, const std::string& what, std::size_t line) {
    std::string text = file.string();
    if (line != 0) text.append(":").append(std::to_string(line));
    return text.append(": ").append(what);
  }

  std::filesystem::path file_;
  std::size_t line_;
};

// A loaded array: its shape (empty for a scalar) and its elements in C order.
template <class T>
struct npy_array {
  std::vector<std::size_t> shape;
  std::vector<T> values;

  std::size_t rank() const noexcept { return shape.size(); }
  std::size_t size() const noexcept { return values.size(); }
};

// What the header of a .npy file says.
struct npy_header {
  std::string descr;  // numpy's dtype string, e.g. "<f4"
  bool fortran_order = false;
  std::vector<std::size_t> shape;
  std::size_t data_offset = 0;  // where the data starts in the file

  std::size_t element_count() const noexcept {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
};

// "[3, 4]", for messages.
inline std::string shape_to_string(std::span<const std::size_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace npy_detail {

inline constexpr std::string_view magic = "\x93NUMPY";

inline std::vector<char> read_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw model_file_error(file, "no such file");
  if (std::filesystem::is_directory(file, ec)) throw model_file_error(file, "is a directory, not a .npy file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw model_file_error(file, "cannot be opened for reading");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw model_file_error(file, "read error");
  return bytes;
}

// A strict parser for the header's Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class header_parser {
 public:
  header_parser(std::string_view text, const std::filesystem::path& file) : text_(text), file_(file) {}

  npy_header parse() {
    npy_header header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_spaces();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        header.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "' in the header (a .npy header has descr, fortran_order and shape)");
      }
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_spaces();
      if (peek() != '}') fail("malformed header: expected ',' or '}'");
    }
    ++pos_;
    skip_spaces();
    if (pos_ != text_.size()) fail("malformed header: text after the closing '}'");
    if (!has_descr) fail("malformed header: no 'descr' key");
    if (!has_order) fail("malformed header: no 'fortran_order' key");
    if (!has_shape) fail("malformed header: no 'shape' key");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw model_file_error(file_, what); }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) fail(std::string("malformed header: expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_spaces();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("malformed header: expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("malformed header: unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_spaces();
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("malformed header: fortran_order must be True or False");
  }
  std::vector<std::size_t> tuple() {
    std::vector<std::size_t> dims;
    expect('(');
    while (true) {
      skip_spaces();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("malformed header: a shape holds non-negative integers");
      std::size_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        const std::size_t digit = static_cast<std::size_t>(peek() - '0');
        if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("shape dimension overflows");
        value = value * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 wrote long integers as 3L
      dims.push_back(value);
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("malformed header: expected ',' or ')' in the shape");
    }
    ++pos_;
    return dims;
  }

  std::string_view text_;
  const std::filesystem::path& file_;
  std::size_t pos_ = 0;
};

inline std::uint32_t read_le(const char* p, std::size_t bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v |= std::uint32_t(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Checks the data's length against the shape; returns the number of elements.
inline std::size_t check_data_size(const npy_header& header, std::size_t file_size, std::size_t item_size,
                                   const std::filesystem::path& file) {
  std::size_t count = 1;
  for (std::size_t d : header.shape) {
    if (d != 0 && count > std::numeric_limits<std::size_t>::max() / item_size / d)
      throw model_file_error(file, "shape " + shape_to_string(header.shape) + " is too large");
    count *= d;
  }
  const std::size_t expected = count * item_size;
  const std::size_t present = file_size - header.data_offset;
  if (present < expected)
    throw model_file_error(file, "truncated: shape " + shape_to_string(header.shape) + " of '" + header.descr +
                                     "' needs " + std::to_string(expected) + " bytes of data, the file has " +
                                     std::to_string(present));
  if (present > expected)
    throw model_file_error(file, std::to_string(present - expected) + " bytes after the data that shape " +
                                     shape_to_string(header.shape) + " of '" + header.descr + "' describes");
  return count;
}

template <class T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace npy_detail

// Parses the header of a .npy file already in memory (`bytes` is the whole file). Checks magic, version, header
// syntax and C order; not the dtype, which the typed readers check.
inline npy_header parse_npy_header(std::span<const char> bytes, const std::filesystem::path& file) {
  static_assert(std::endian::native == std::endian::little, "the .npy reader assumes a little-endian machine");
  if (bytes.size() < 10 || std::string_view(bytes.data(), 6) != npy_detail::magic)
    throw model_file_error(file, "not a .npy file (it does not start with \\x93NUMPY)");
  const auto major = static_cast<unsigned char>(bytes[6]);
  const auto minor = static_cast<unsigned char>(bytes[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    throw model_file_error(file, "unsupported .npy format version " + std::to_string(major) + "." +
                                     std::to_string(minor) + " (this reader knows 1.0, 2.0 and 3.0)");
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + length_bytes) throw model_file_error(file, "truncated: the header length is cut off");
  const std::size_t header_length = npy_detail::read_le(bytes.data() + 8, length_bytes);
  const std::size_t header_start = 8 + length_bytes;
  if (bytes.size() < header_start + header_length)
    throw model_file_error(file, "truncated: the header says it is " + std::to_string(header_length) +
                                     " bytes long, the file ends before that");
  std::string_view text(bytes.data() + header_start, header_length);
  npy_header header = npy_detail::header_parser(text, file).parse();
  header.data_offset = header_start + header_length;
  if (header.fortran_order)
    throw model_file_error(file, "fortran_order is True: only C-order arrays are supported "
                                 "(save numpy.ascontiguousarray(a))");
  return header;
}

// Reads a float array: '<f4' as is, '<f8' converted (a finite double beyond float's range is an error).
inline npy_array<float> read_npy_float32(const std::filesystem::path& file) {
  const std::vector<char> bytes = npy_detail::read_file(file);
  const npy_header header = parse_npy_header(bytes, file);
  npy_array<float> array;
  array.shape = header.shape;
  const char* data = bytes.data() + header.data_offset;
  if (header.descr == "<f4") {
    const std::size_t n = npy_detail::check_data_size(header, bytes.size(), 4, file);
    array.values.resize(n);
    if (n != 0) std::memcpy(array.values.data(), data, n * sizeof(float));
  } else if (header.descr == "<f8") {
    const std::size_t n = npy_detail::check_data_size(header, bytes.size(), 8, file);
    array.values.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = npy_detail::load_le<double>(data + 8 * i);
      if (std::isfinite(v) && std::fabs(v) > double(std::numeric_limits<float>::max()))
        throw model_file_error(file, "element " + std::to_string(i) + " (" + std::to_string(v) +
                                         ") does not fit in a float");
      array.values[i] = static_cast<float>(v);
    }
  } else {
    throw model_file_error(file, "dtype '" + header.descr + "' is not supported here: expected little-endian "
                                 "float32 ('<f4') or float64 ('<f8')");
  }
  return array;
}

// Reads an integer array (labels) of any integer dtype as int64 ('<u8' values above INT64_MAX are an error).
inline npy_array<std::int64_t> read_npy_int64(const std::filesystem::path& file) {
  const std::vector<char> bytes = npy_detail::read_file(file);
  const npy_header header = parse_npy_header(bytes, file);
  const std::string& d = header.descr;
  const bool is_integer = d.size() == 3 && (d[0] == '<' || d[0] == '|') && (d[1] == 'i' || d[1] == 'u') &&
                          (d[2] == '1' || d[2] == '2' || d[2] == '4' || d[2] == '8') && (d[0] == '|') == (d[2] == '1');
  if (!is_integer)
    throw model_file_error(file, "dtype '" + d + "' is not supported here: expected a little-endian integer "
                                 "('|i1', '<i2', '<i4', '<i8', '|u1', '<u2', '<u4' or '<u8')");
  const std::size_t item = static_cast<std::size_t>(d[2] - '0');
  const bool is_signed = d[1] == 'i';
  const std::size_t n = npy_detail::check_data_size(header, bytes.size(), item, file);
  npy_array<std::int64_t> array;
  array.shape = header.shape;
  array.values.resize(n);
  const char* data = bytes.data() + header.data_offset;
  for (std::size_t i = 0; i < n; ++i) {
    const char* p = data + item * i;
    std::int64_t v = 0;
    switch (item) {
      // Each branch converts on its own: `c ? int32 : uint32` would make the signed value unsigned first.
      case 1: v = is_signed ? std::int64_t{npy_detail::load_le<std::int8_t>(p)}
                            : std::int64_t{npy_detail::load_le<std::uint8_t>(p)}; break;
      case 2: v = is_signed ? std::int64_t{npy_detail::load_le<std::int16_t>(p)}
                            : std::int64_t{npy_detail::load_le<std::uint16_t>(p)}; break;
      case 4: v = is_signed ? std::int64_t{npy_detail::load_le<std::int32_t>(p)}
                            : std::int64_t{npy_detail::load_le<std::uint32_t>(p)}; break;
      default: {
        if (is_signed) {
          v = npy_detail::load_le<std::int64_t>(p);
        } else {
          const auto u = npy_detail::load_le<std::uint64_t>(p);
          if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
            throw model_file_error(file, "element " + std::to_string(i) + " does not fit in int64");
          v = static_cast<std::int64_t>(u);
        }
      }
    }
    array.values[i] = v;
  }
  return array;
}

namespace npy_detail {
template <class T>
constexpr std::string_view descr_of() {
  if constexpr (std::is_same_v<T, float>) return "<f4";
  else if constexpr (std::is_same_v<T, double>) return "<f8";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
  else static_assert(sizeof(T) == 0, "write_npy writes float, double, int32 or int64");
}
}  // namespace npy_detail

// Writes a C-order .npy file (format 1.0) that numpy.load reads; throws model_file_error if it cannot.
template <class T>
void write_npy(const std::filesystem::path& file, std::span<const T> values, std::span<const std::size_t> shape) {
  std::size_t count = 1;
  for (std::size_t d : shape) count *= d;
  if (count != values.size())
    throw model_file_error(file, "write_npy: shape " + shape_to_string(shape) + " holds " + std::to_string(count) +
                                     " elements, " + std::to_string(values.size()) + " given");
  std::string dims;
  for (std::size_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 1);  // numpy writes (3, 4) but (3,)
  std::string header = "{'descr': '" + std::string(npy_detail::descr_of<T>()) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary, as numpy does; end with a newline.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw model_file_error(file, "cannot be opened for writing");
  out.write(npy_detail::magic.data(), 6);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const char length[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(length, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
  if (!out) throw model_file_error(file, "write error");
}

}  // namespace compute
POWERBATCH_END_NAMESPACE
