// compute::load_mlp: a small model built here runs exactly as a plain reference computes it, with every activation,
// scaling and softmax; every malformed model folder is refused with a message naming the file (and manifest line).
#include "helpers.hpp"

#include <powerbatch/compute/model.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace compute = powerbatch::compute;
using Catch::Matchers::Contains;
using model_test::save;
using model_test::temp_dir;
using model_test::write_text;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const compute::model_file_error& e) {
    return e.what();
  }
  return "no error";
}

// Deterministic small weights in [-1, 1].
std::vector<float> values(std::size_t n, int seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.7 * double(i) + 1.3 * seed));
  return v;
}

struct reference_layer {
  std::vector<float> w, b;
  std::size_t out, in;
  compute::activation act;
};

double activate(compute::activation a, double v) {
  switch (a) {
    case compute::activation::relu: return v > 0 ? v : 0;
    case compute::activation::gelu: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case compute::activation::sigmoid: return 1 / (1 + std::exp(-v));
    case compute::activation::tanh: return std::tanh(v);
    default: return v;
  }
}

// A folder with four layers 5 -> 8 -> 7 -> 6 -> 3 (relu, gelu, sigmoid, tanh), scaling and a softmax output.
struct small_model {
  temp_dir dir;
  std::vector<reference_layer> layers;
  std::vector<float> mean = values(5, 11), std;

  small_model() {
    const std::size_t widths[] = {5, 8, 7, 6, 3};
    const compute::activation acts[] = {compute::activation::relu, compute::activation::gelu,
                                        compute::activation::sigmoid, compute::activation::tanh};
    std::string manifest = "# a test model\ninput 5\nscaling mean.npy std.npy\n";
    for (std::size_t i = 0; i < 4; ++i) {
      reference_layer l{values(widths[i + 1] * widths[i], int(i)), values(widths[i + 1], int(i) + 7), widths[i + 1],
                        widths[i], acts[i]};
      const std::string name = "fc" + std::to_string(i + 1);
      save(dir / (name + ".weight.npy"), l.w, {l.out, l.in});
      save(dir / (name + ".bias.npy"), l.b, {l.out});
      manifest += "layer " + name + ".weight.npy " + name + ".bias.npy " + std::string(to_string(acts[i])) +
                  "   # trailing comment\n";
      layers.push_back(std::move(l));
    }
    manifest += "\noutput softmax\n";
    for (float m : values(5, 12)) std.push_back(0.5f + std::fabs(m));
    save(dir / "mean.npy", mean, {5});
    save(dir / "std.npy", std, {5});
    write_text(dir / "manifest", manifest);
  }

  std::vector<double> reference(const std::vector<float>& x) const {
    std::vector<double> a(x.begin(), x.end());
    for (std::size_t c = 0; c < 5; ++c) a[c] = (a[c] - mean[c]) / std[c];
    for (const auto& l : layers) {
      std::vector<double> next(l.out);
      for (std::size_t o = 0; o < l.out; ++o) {
        double s = l.b[o];
        for (std::size_t i = 0; i < l.in; ++i) s += double(l.w[o * l.in + i]) * a[i];
        next[o] = activate(l.act, s);
      }
      a = std::move(next);
    }
    double max = a[0], sum = 0;
    for (double v : a) max = std::max(max, v);
    for (double& v : a) sum += (v = std::exp(v - max));
    for (double& v : a) v /= sum;
    return a;
  }
};

}  // namespace

TEST_CASE("mlp: a loaded model computes what a plain reference computes", "[mlp]") {
  small_model m;
  const compute::mlp_model model = compute::load_mlp(m.dir.path());
  CHECK(model.input_size() == 5);
  CHECK(model.output_size() == 3);
  CHECK(model.layers().size() == 4);
  CHECK(model.softmax_output());
  REQUIRE(model.scaling().has_value());

  const std::size_t batch = 37;
  std::vector<float> x(batch * 5);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(3.0 * std::cos(0.37 * double(i)));
  std::vector<float> y(batch * 3, -1.0f);
  model.forward(x.data(), batch, y.data());
  for (std::size_t r = 0; r < batch; ++r) {
    const auto expected = m.reference(std::vector<float>(x.begin() + long(r * 5), x.begin() + long(r * 5 + 5)));
    for (std::size_t c = 0; c < 3; ++c) CHECK(y[r * 3 + c] == Approx(expected[c]).margin(2e-5));
  }

  SECTION("the int8 model stays close to it") {
    const compute::quantized_mlp q = compute::quantize_int8(model);
    CHECK(q.input_size() == 5);
    CHECK(q.output_size() == 3);
    std::vector<float> yq(batch * 3);
    q.forward(x.data(), batch, yq.data());
    for (std::size_t i = 0; i < yq.size(); ++i) CHECK(yq[i] == Approx(y[i]).margin(0.05));
  }
  SECTION("forward refuses scratch that is too small") {
    std::vector<float> scratch(model.scratch_size(batch) - 1);
    CHECK_THROWS_AS(model.forward(x.data(), batch, y.data(), scratch), std::invalid_argument);
  }
}

TEST_CASE("mlp: the manifest path may name the manifest file itself; bias may be '-'", "[mlp]") {
  temp_dir dir;
  save(dir / "w.npy", {1, 2, 3, 4, 5, 6}, {2, 3});
  write_text(dir / "model.txt", "layer w.npy - none\n");
  const compute::mlp_model model = compute::load_mlp(dir / "model.txt");
  std::vector<float> x = {1, 1, 1}, y(2);
  model.forward(x.data(), 1, y.data());
  CHECK(y == std::vector<float>{6, 15});
  CHECK_FALSE(model.softmax_output());
}

TEST_CASE("mlp: every malformed model folder names the file at fault", "[mlp][errors]") {
  small_model m;
  const auto& dir = m.dir;
  auto load = [&] { return error_of([&] { compute::load_mlp(dir.path()); }); };
  const std::string manifest = (dir / "manifest").string();

  SECTION("a missing folder") {
    CHECK_THAT(error_of([&] { compute::load_mlp(dir / "nowhere"); }), Contains("nowhere") &&
                                                                           Contains("no such model folder"));
  }
  SECTION("no manifest") {
    std::filesystem::remove(dir / "manifest");
    CHECK_THAT(load(), Contains(manifest) && Contains("no manifest"));
  }
  SECTION("a missing weight file") {
    std::filesystem::remove(dir / "fc2.weight.npy");
    CHECK_THAT(load(), Contains((dir / "fc2.weight.npy").string()) && Contains("no such file"));
  }
  SECTION("a weight of the wrong dtype") {
    model_test::write_bytes(dir / "fc3.weight.npy",
                            model_test::npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (6, 7), }",
                                                  std::string(6 * 7 * 8, '\0')));
    CHECK_THAT(load(), Contains((dir / "fc3.weight.npy").string()) && Contains("dtype '<i8' is not supported"));
  }
  SECTION("truncated weights") {
    model_test::write_bytes(dir / "fc1.weight.npy",
                            model_test::npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (8, 5), }",
                                                  std::string(100, '\0')));
    CHECK_THAT(load(), Contains((dir / "fc1.weight.npy").string()) && Contains("truncated"));
  }
  SECTION("shapes that do not chain") {
    save(dir / "fc3.weight.npy", values(6 * 9, 0), {6, 9});
    CHECK_THAT(load(), Contains((dir / "fc3.weight.npy").string()) && Contains("shapes do not chain") &&
                           Contains("layer 3 takes 9 inputs") && Contains("layer 2 gives 7 outputs"));
  }
  SECTION("a weight that is not 2-D") {
    save(dir / "fc1.weight.npy", values(40, 0), {40});
    CHECK_THAT(load(), Contains((dir / "fc1.weight.npy").string()) && Contains("must be 2-D"));
  }
  SECTION("a bias of the wrong length") {
    save(dir / "fc4.bias.npy", values(4, 0), {4});
    CHECK_THAT(load(), Contains((dir / "fc4.bias.npy").string()) && Contains("bias has shape [4]") &&
                           Contains("must be [3]"));
  }
  SECTION("an input width the first layer does not take") {
    write_text(dir / "manifest", "input 6\nlayer fc1.weight.npy fc1.bias.npy relu\n");
    CHECK_THAT(load(), Contains((dir / "fc1.weight.npy").string()) && Contains("layer 1 takes 5 inputs") &&
                           Contains("'input 6'"));
  }
  SECTION("scaling of the wrong width") {
    save(dir / "mean.npy", values(4, 0), {4});
    save(dir / "std.npy", std::vector<float>(4, 1.0f), {4});
    CHECK_THAT(load(), Contains((dir / "mean.npy").string()) && Contains("scaling has 4 features"));
  }
  SECTION("a zero std") {
    save(dir / "std.npy", {1, 1, 0, 1, 1}, {5});
    CHECK_THAT(load(), Contains((dir / "std.npy").string()) && Contains("std[2]"));
  }
  SECTION("an unknown directive") {
    write_text(dir / "manifest", "input 5\n\nlayr fc1.weight.npy fc1.bias.npy relu\n");
    CHECK_THAT(load(), Contains(manifest + ":3:") && Contains("unknown directive 'layr'"));
  }
  SECTION("an unknown activation") {
    write_text(dir / "manifest", "layer fc1.weight.npy fc1.bias.npy relux\n");
    CHECK_THAT(load(), Contains(manifest + ":1:") && Contains("unknown activation 'relux'"));
  }
  SECTION("a layer line with a missing field") {
    write_text(dir / "manifest", "# header\nlayer fc1.weight.npy relu\n");
    CHECK_THAT(load(), Contains(manifest + ":2:") && Contains("'layer' takes 3 fields") && Contains("found 2"));
  }
  SECTION("an input width that is not a number") {
    write_text(dir / "manifest", "input sixty-four\nlayer fc1.weight.npy fc1.bias.npy relu\n");
    CHECK_THAT(load(), Contains(manifest + ":1:") && Contains("not a positive integer"));
  }
  SECTION("an unknown output") {
    write_text(dir / "manifest", "layer fc1.weight.npy fc1.bias.npy relu\noutput argmax\n");
    CHECK_THAT(load(), Contains(manifest + ":2:") && Contains("unknown output 'argmax'"));
  }
  SECTION("no layers") {
    write_text(dir / "manifest", "# nothing\ninput 5\n");
    CHECK_THAT(load(), Contains(manifest) && Contains("no 'layer' line"));
  }
}
