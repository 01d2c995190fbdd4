#include "engine/compute/rms_norm.h"

#include <cmath>

namespace textgen {

void RmsNorm(const float* x, const float* weight, int64_t rows, int64_t dim, float epsilon,
             float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * dim;
    float* out_row = out + r * dim;

    float sum_of_squares = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum_of_squares += row[i] * row[i];
    float scale = 1.0f / std::sqrt(sum_of_squares / static_cast<float>(dim) + epsilon);

    for (int64_t i = 0; i < dim; ++i) out_row[i] = weight[i] * (scale * row[i]);
  }
}

}  // namespace textgen
