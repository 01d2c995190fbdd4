#ifndef TEXTGEN_ENGINE_COMPUTE_LAYER_NORM_H_
#define TEXTGEN_ENGINE_COMPUTE_LAYER_NORM_H_

#include <cstdint>

namespace textgen {

// LayerNorm of each row, with a learned scale and bias:
//   mean     = sum_i x[r, i] / dim
//   variance = sum_i (x[r, i] - mean)^2 / dim
//   out[r, i] = (x[r, i] - mean) / sqrt(variance + epsilon) * weight[i] + bias[i]
// x and out are [rows, dim] (they may alias); weight and bias are [dim].
void LayerNorm(const float* x, const float* weight, const float* bias, int64_t rows, int64_t dim,
               float epsilon, float* out);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_LAYER_NORM_H_
