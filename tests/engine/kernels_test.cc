// Each small kernel against a plain double-precision loop written from its
// formula, in a different form where one exists.

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "engine/compute/activations.h"
#include "engine/compute/layer_norm.h"
#include "engine/compute/rms_norm.h"
#include "engine/compute/rope.h"
#include "engine/compute/softmax.h"

namespace textgen {
namespace {

std::vector<float> RandomValues(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

TEST(RmsNormTest, MatchesFormulaPerRow) {
  const int64_t rows = 3, dim = 64;
  const float epsilon = 1e-5f;
  std::vector<float> x = RandomValues(rows * dim, 1, 3.0f);
  std::vector<float> weight = RandomValues(dim, 2);
  std::vector<float> out(rows * dim);

  RmsNorm(x.data(), weight.data(), rows, dim, epsilon, out.data());

  for (int64_t r = 0; r < rows; ++r) {
    double mean_square = 0.0;
    for (int64_t i = 0; i < dim; ++i) mean_square += double{x[r * dim + i]} * x[r * dim + i];
    mean_square /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      double expected = weight[i] * x[r * dim + i] / std::sqrt(mean_square + epsilon);
      ASSERT_NEAR(out[r * dim + i], expected, 1e-5) << "row " << r << " column " << i;
    }
  }
}

TEST(RmsNormTest, WorksInPlace) {
  std::vector<float> x = {3.0f, 4.0f};
  std::vector<float> weight = {1.0f, 2.0f};
  // mean square = 12.5, so each value is divided by sqrt(12.5).
  RmsNorm(x.data(), weight.data(), 1, 2, 0.0f, x.data());
  EXPECT_NEAR(x[0], 3.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(x[1], 8.0 / std::sqrt(12.5), 1e-6);
}

TEST(RopeTest, MatchesComplexRotation) {
  const int64_t n_heads = 3, head_dim = 8, position = 37;
  const float base = 10000.0f;
  std::vector<float> original = RandomValues(n_heads * head_dim, 3);
  std::vector<float> rotated = original;

  ApplyRope(rotated.data(), n_heads, head_dim, position, base);

  // Each pair is a complex number multiplied by e^{i theta}.
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < head_dim; i += 2) {
      double theta = position * std::pow(double{base}, -static_cast<double>(i) / head_dim);
      std::complex<double> z(original[h * head_dim + i], original[h * head_dim + i + 1]);
      std::complex<double> expected = z * std::polar(1.0, theta);
      ASSERT_NEAR(rotated[h * head_dim + i], expected.real(), 1e-4) << "head " << h << " i " << i;
      ASSERT_NEAR(rotated[h * head_dim + i + 1], expected.imag(), 1e-4)
          << "head " << h << " i " << i;
    }
  }
}

TEST(RopeTest, PositionZeroIsIdentity) {
  std::vector<float> original = RandomValues(16, 4);
  std::vector<float> rotated = original;
  ApplyRope(rotated.data(), 2, 8, 0, 10000.0f);
  EXPECT_EQ(rotated, original);
}

TEST(RopeTest, PreservesPairNorms) {
  std::vector<float> original = RandomValues(64, 5);
  std::vector<float> rotated = original;
  ApplyRope(rotated.data(), 4, 16, 511, 10000.0f);
  for (size_t i = 0; i < original.size(); i += 2) {
    double before = std::hypot(original[i], original[i + 1]);
    double after = std::hypot(rotated[i], rotated[i + 1]);
    ASSERT_NEAR(after, before, 1e-5) << "pair " << i / 2;
  }
}

TEST(SoftmaxTest, MatchesFormula) {
  std::vector<float> x = RandomValues(50, 6, 10.0f);
  std::vector<float> original = x;
  Softmax(x.data(), static_cast<int64_t>(x.size()));

  double total = 0.0;
  for (float v : original) total += std::exp(double{v});
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(x[i], std::exp(double{original[i]}) / total, 1e-6) << "index " << i;
  }
}

TEST(SoftmaxTest, LargeLogitsDoNotOverflow) {
  std::vector<float> x = {1000.0f, 1000.0f, -1000.0f};
  Softmax(x.data(), 3);
  EXPECT_FLOAT_EQ(x[0], 0.5f);
  EXPECT_FLOAT_EQ(x[1], 0.5f);
  EXPECT_FLOAT_EQ(x[2], 0.0f);
}

TEST(SwiGluTest, MatchesFormula) {
  std::vector<float> gate = RandomValues(40, 7, 6.0f);
  std::vector<float> up = RandomValues(40, 8, 2.0f);
  std::vector<float> original = gate;
  SwiGlu(gate.data(), up.data(), 40);
  for (size_t i = 0; i < gate.size(); ++i) {
    double z = original[i];
    double expected = z / (1.0 + std::exp(-z)) * up[i];
    ASSERT_NEAR(gate[i], expected, 1e-5) << "index " << i;
  }
}

TEST(LayerNormTest, MatchesFormulaPerRow) {
  const int64_t rows = 4, dim = 48;
  const float epsilon = 1e-5f;
  std::vector<float> x = RandomValues(rows * dim, 9, 4.0f);
  for (float& v : x) v += 3.0f;  // an offset the mean must remove
  std::vector<float> weight = RandomValues(dim, 10);
  std::vector<float> bias = RandomValues(dim, 11);
  std::vector<float> out(rows * dim);

  LayerNorm(x.data(), weight.data(), bias.data(), rows, dim, epsilon, out.data());

  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0, variance = 0.0;
    for (int64_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= dim;
    for (int64_t i = 0; i < dim; ++i) variance += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    variance /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      double expected = (x[r * dim + i] - mean) / std::sqrt(variance + epsilon) * weight[i] + bias[i];
      ASSERT_NEAR(out[r * dim + i], expected, 1e-5) << "row " << r << " column " << i;
    }
  }
}

}  // namespace
}  // namespace textgen
