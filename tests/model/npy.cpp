// compute::read_npy_*: the formats numpy writes are read exactly; every malformed file is refused with a message
// that names the file and says what is wrong.
#include "helpers.hpp"

#include <powerbatch/compute/npy.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace compute = powerbatch::compute;
using Catch::Matchers::Contains;
using model_test::npy_bytes;
using model_test::raw;
using model_test::temp_dir;
using model_test::write_bytes;

namespace {

const std::string f4_2x3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const std::vector<float> six = {1.5f, -2.0f, 3.25f, 0.0f, 1e-20f, -7.0f};

// The message of the model_file_error `f` throws ("no error" if it throws none), after checking that the error
// carries the file it names.
template <class F>
std::string error_of(F&& f, const std::filesystem::path& file) {
  try {
    f();
  } catch (const compute::model_file_error& e) {
    CHECK(e.file() == file);
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("npy: float32 in format versions 1, 2 and 3 reads exactly", "[npy]") {
  temp_dir dir;
  for (int major : {1, 2, 3}) {
    const auto file = dir / std::string("v").append(std::to_string(major)).append(".npy");
    write_bytes(file, npy_bytes(f4_2x3, raw(six), major));
    const auto array = compute::read_npy_float32(file);
    CHECK(array.shape == std::vector<std::size_t>{2, 3});
    CHECK(array.values == six);
  }
}

TEST_CASE("npy: header variants numpy and other writers produce", "[npy]") {
  temp_dir dir;
  const auto file = dir / "a.npy";
  SECTION("keys in another order, double quotes, a 1-D shape with a trailing comma") {
    write_bytes(file, npy_bytes("{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}", raw(six)));
    const auto array = compute::read_npy_float32(file);
    CHECK(array.shape == std::vector<std::size_t>{6});
    CHECK(array.values == six);
  }
  SECTION("a scalar: shape ()") {
    write_bytes(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw(std::vector<float>{4.0f})));
    const auto array = compute::read_npy_float32(file);
    CHECK(array.shape.empty());
    CHECK(array.values == std::vector<float>{4.0f});
  }
  SECTION("an empty array: shape (0, 5)") {
    write_bytes(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", ""));
    const auto array = compute::read_npy_float32(file);
    CHECK(array.shape == std::vector<std::size_t>{0, 5});
    CHECK(array.values.empty());
  }
}

TEST_CASE("npy: float64 is converted to float", "[npy]") {
  temp_dir dir;
  const auto file = dir / "d.npy";
  const std::vector<double> values = {0.1, -1e10, 3.0};
  write_bytes(file, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", raw(values)));
  const auto array = compute::read_npy_float32(file);
  REQUIRE(array.values.size() == 3);
  CHECK(array.values[0] == 0.1f);
  CHECK(array.values[1] == -1e10f);
  CHECK(array.values[2] == 3.0f);

  write_bytes(file, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", raw(std::vector<double>{1e300})));
  CHECK_THAT(error_of([&] { compute::read_npy_float32(file); }, file),
             Contains(file.string()) && Contains("does not fit in a float"));
}

TEST_CASE("npy: integer labels of every width read as int64", "[npy]") {
  temp_dir dir;
  const auto file = dir / "y.npy";
  write_bytes(file, npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                              raw(std::vector<std::int64_t>{7, -1, std::numeric_limits<std::int64_t>::max()})));
  CHECK(compute::read_npy_int64(file).values ==
        std::vector<std::int64_t>{7, -1, std::numeric_limits<std::int64_t>::max()});
  write_bytes(file, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                              raw(std::vector<std::int32_t>{9, -3})));
  CHECK(compute::read_npy_int64(file).values == std::vector<std::int64_t>{9, -3});
  write_bytes(file, npy_bytes("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }",
                              raw(std::vector<std::int16_t>{-300, 5})));
  CHECK(compute::read_npy_int64(file).values == std::vector<std::int64_t>{-300, 5});
  write_bytes(file, npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }",
                              raw(std::vector<std::uint8_t>{255, 0})));
  CHECK(compute::read_npy_int64(file).values == std::vector<std::int64_t>{255, 0});

  write_bytes(file, npy_bytes("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
                              raw(std::vector<std::uint64_t>{~std::uint64_t{0}})));
  CHECK_THAT(error_of([&] { compute::read_npy_int64(file); }, file), Contains("does not fit in int64"));
  write_bytes(file, npy_bytes(f4_2x3, raw(six)));
  CHECK_THAT(error_of([&] { compute::read_npy_int64(file); }, file),
             Contains(file.string()) && Contains("dtype '<f4' is not supported"));
}

TEST_CASE("npy: write_npy round-trips, and reads numpy's own files", "[npy]") {
  temp_dir dir;
  const auto file = dir / "w.npy";
  compute::write_npy<float>(file, six, std::vector<std::size_t>{3, 2});
  const auto array = compute::read_npy_float32(file);
  CHECK(array.shape == std::vector<std::size_t>{3, 2});
  CHECK(array.values == six);

  const std::filesystem::path digits = POWERBATCH_DIGITS_DIR;
  const auto x = compute::read_npy_float32(digits / "X_test.npy");  // written by numpy.save
  CHECK(x.shape == std::vector<std::size_t>{450, 64});
  const auto y = compute::read_npy_int64(digits / "y_test.npy");
  CHECK(y.shape == std::vector<std::size_t>{450});
  for (auto label : y.values) CHECK((label >= 0 && label <= 9));
}

TEST_CASE("npy: every malformed file is refused with a message naming the file", "[npy][errors]") {
  temp_dir dir;
  const auto file = dir / "bad.npy";
  auto message = [&] { return error_of([&] { compute::read_npy_float32(file); }, file); };

  SECTION("missing file") {
    CHECK_THAT(message(), Contains(file.string()) && Contains("no such file"));
  }
  SECTION("not a .npy file") {
    write_bytes(file, "PK\x03\x04 this is a zip archive, not an array");
    CHECK_THAT(message(), Contains(file.string()) && Contains("not a .npy file"));
  }
  SECTION("unknown format version") {
    write_bytes(file, npy_bytes(f4_2x3, raw(six), 4));
    CHECK_THAT(message(), Contains(file.string()) && Contains("unsupported .npy format version 4.0"));
  }
  SECTION("fortran order") {
    write_bytes(file, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", raw(six)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("fortran_order is True"));
  }
  SECTION("wrong dtype: int32 where floats are expected") {
    write_bytes(file, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", raw(six)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("dtype '<i4' is not supported"));
  }
  SECTION("wrong dtype: big-endian float32") {
    write_bytes(file, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", raw(six)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("dtype '>f4' is not supported"));
  }
  SECTION("truncated data") {
    write_bytes(file, npy_bytes(f4_2x3, raw(six).substr(0, 20)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("truncated") && Contains("needs 24 bytes") &&
                              Contains("has 20"));
  }
  SECTION("data longer than the shape") {
    write_bytes(file, npy_bytes(f4_2x3, raw(six) + "xxxx"));
    CHECK_THAT(message(), Contains(file.string()) && Contains("4 bytes after the data"));
  }
  SECTION("header cut off") {
    write_bytes(file, npy_bytes(f4_2x3, raw(six)).substr(0, 30));
    CHECK_THAT(message(), Contains(file.string()) && Contains("truncated"));
  }
  SECTION("header without a shape") {
    write_bytes(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, }", raw(six)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("no 'shape' key"));
  }
  SECTION("header with an unknown key") {
    write_bytes(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", raw(six)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("unexpected key 'extra'"));
  }
  SECTION("shape that is not a tuple of integers") {
    write_bytes(file, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", raw(six)));
    CHECK_THAT(message(), Contains(file.string()) && Contains("a shape holds non-negative integers"));
  }
  SECTION("a directory") {
    std::filesystem::create_directories(file);
    CHECK_THAT(message(), Contains(file.string()) && Contains("is a directory"));
  }
}
