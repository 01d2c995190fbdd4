#ifndef TEXTGEN_ENGINE_COMPUTE_RMS_NORM_H_
#define TEXTGEN_ENGINE_COMPUTE_RMS_NORM_H_

#include <cstdint>

namespace textgen {

// RMSNorm of each row:
//   out[r, i] = weight[i] * x[r, i] / sqrt(mean_j(x[r, j]^2) + epsilon)
// x and out are [rows, dim] (they may alias); weight is [dim].
void RmsNorm(const float* x, const float* weight, int64_t rows, int64_t dim, float epsilon,
             float* out);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_RMS_NORM_H_
