#include "engine/compute/layer_norm.h"

#include <cmath>

namespace textgen {

void LayerNorm(const float* x, const float* weight, const float* bias, int64_t rows, int64_t dim,
               float epsilon, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * dim;
    float* out_row = out + r * dim;

    float sum = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum += row[i];
    const float mean = sum / static_cast<float>(dim);

    // Two passes: the centered sum of squares loses less precision than
    // E[x^2] - mean^2.
    float squares = 0.0f;
    for (int64_t i = 0; i < dim; ++i) squares += (row[i] - mean) * (row[i] - mean);
    const float scale = 1.0f / std::sqrt(squares / static_cast<float>(dim) + epsilon);

    for (int64_t i = 0; i < dim; ++i) out_row[i] = (row[i] - mean) * scale * weight[i] + bias[i];
  }
}

}  // namespace textgen
