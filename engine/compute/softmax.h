#ifndef TEXTGEN_ENGINE_COMPUTE_SOFTMAX_H_
#define TEXTGEN_ENGINE_COMPUTE_SOFTMAX_H_

#include <cstdint>

namespace textgen {

// In-place softmax of x [n]:
//   x[i] = exp(x[i] - max) / sum_j exp(x[j] - max)
// Subtracting the maximum keeps exp from overflowing.
void Softmax(float* x, int64_t n);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_SOFTMAX_H_
