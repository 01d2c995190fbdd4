#include "engine/compute/dnnl_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace textgen {
namespace {

std::vector<float> RandomValues(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

// y[r, o] = sum_i x[r, i] * w[o, i], accumulated in double.
std::vector<double> ReferenceMatmul(const std::vector<float>& x, const std::vector<float>& w,
                                    int64_t rows, int64_t in, int64_t out) {
  std::vector<double> y(rows * out, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int64_t i = 0; i < in; ++i) sum += double{x[r * in + i]} * w[o * in + i];
      y[r * out + o] = sum;
    }
  }
  return y;
}

struct MatmulCase {
  int64_t rows;
  int64_t in;
  int64_t out;
};

class DnnlMatmulTest : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(DnnlMatmulTest, F32MatchesReferenceLoop) {
  const MatmulCase c = GetParam();
  std::vector<float> x = RandomValues(c.rows * c.in, 1);
  std::vector<float> w = RandomValues(c.out * c.in, 2);

  DnnlMatmul matmul;
  PackedMatrix packed = matmul.Pack(w.data(), c.out, c.in, WeightType::kF32);
  std::vector<float> y(c.rows * c.out, NAN);
  matmul.Multiply(x.data(), c.rows, packed, y.data());

  std::vector<double> expected = ReferenceMatmul(x, w, c.rows, c.in, c.out);
  for (size_t i = 0; i < y.size(); ++i) {
    // f32 accumulation over `in` terms of magnitude <= 1.
    ASSERT_NEAR(y[i], expected[i], 1e-5 * c.in) << "at index " << i;
  }
}

TEST_P(DnnlMatmulTest, Bf16MatchesReferenceWithinBf16Precision) {
  const MatmulCase c = GetParam();
  std::vector<float> x = RandomValues(c.rows * c.in, 3);
  std::vector<float> w = RandomValues(c.out * c.in, 4);

  DnnlMatmul matmul;
  PackedMatrix packed = matmul.Pack(w.data(), c.out, c.in, WeightType::kBF16);
  std::vector<float> y(c.rows * c.out, NAN);
  matmul.Multiply(x.data(), c.rows, packed, y.data());

  std::vector<double> expected = ReferenceMatmul(x, w, c.rows, c.in, c.out);
  for (size_t i = 0; i < y.size(); ++i) {
    // bf16 keeps 8 significant bits: each product errs by up to about 2^-8
    // relative, and the errors of `in` terms add up like a random walk.
    ASSERT_NEAR(y[i], expected[i], 4.0 * std::sqrt(static_cast<double>(c.in)) / 256.0)
        << "at index " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, DnnlMatmulTest,
                         ::testing::Values(MatmulCase{1, 64, 64}, MatmulCase{7, 64, 172},
                                           MatmulCase{16, 172, 64}, MatmulCase{33, 64, 512},
                                           MatmulCase{100, 96, 40}, MatmulCase{1, 768, 2304}));

TEST(DnnlMatmulEpilogueTest, BiasAndGeluAreFused) {
  const int64_t rows = 5, in = 96, out = 40;
  std::vector<float> x = RandomValues(rows * in, 6);
  std::vector<float> w = RandomValues(out * in, 7);
  std::vector<float> bias = RandomValues(out, 8);
  const double pi = std::acos(-1.0);

  DnnlMatmul matmul;
  PackedMatrix plain = matmul.Pack(w.data(), out, in, WeightType::kF32, bias.data());
  PackedMatrix gelu =
      matmul.Pack(w.data(), out, in, WeightType::kF32, bias.data(), Activation::kGeluTanh);
  std::vector<float> y_plain(rows * out), y_gelu(rows * out);
  matmul.Multiply(x.data(), rows, plain, y_plain.data());
  matmul.Multiply(x.data(), rows, gelu, y_gelu.data());

  std::vector<double> expected = ReferenceMatmul(x, w, rows, in, out);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      const double z = expected[r * out + o] + bias[o];
      const double g = 0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (z + 0.044715 * z * z * z)));
      ASSERT_NEAR(y_plain[r * out + o], z, 1e-4) << "row " << r << " column " << o;
      ASSERT_NEAR(y_gelu[r * out + o], g, 1e-4) << "row " << r << " column " << o;
    }
  }
}

TEST(DnnlMatmulEpilogueTest, GeluKnownValues) {
  // With W = I and no bias the output is gelu(x): gelu(0) = 0, and far from
  // 0 it approaches max(0, x).
  const std::vector<float> identity = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<float> zero_bias(3, 0.0f);
  DnnlMatmul matmul;
  PackedMatrix gelu =
      matmul.Pack(identity.data(), 3, 3, WeightType::kF32, zero_bias.data(), Activation::kGeluTanh);
  const std::vector<float> x = {0.0f, 10.0f, -10.0f};
  std::vector<float> y(3, NAN);
  matmul.Multiply(x.data(), 1, gelu, y.data());
  EXPECT_NEAR(y[0], 0.0f, 1e-6);
  EXPECT_NEAR(y[1], 10.0f, 1e-5);
  EXPECT_NEAR(y[2], 0.0f, 1e-5);
}

TEST(DnnlMatmulReuseTest, SamePackedMatrixServesManyRowCounts) {
  const int64_t in = 64, out = 48;
  std::vector<float> w = RandomValues(out * in, 5);
  DnnlMatmul matmul;
  PackedMatrix packed = matmul.Pack(w.data(), out, in, WeightType::kF32);

  for (int64_t rows : {1, 2, 16, 3, 1, 64}) {
    std::vector<float> x = RandomValues(rows * in, static_cast<uint32_t>(rows));
    std::vector<float> y(rows * out, NAN);
    matmul.Multiply(x.data(), rows, packed, y.data());
    std::vector<double> expected = ReferenceMatmul(x, w, rows, in, out);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], expected[i], 1e-4) << "rows " << rows << " index " << i;
    }
  }
}

}  // namespace
}  // namespace textgen
