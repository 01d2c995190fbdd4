#include "engine/compute/softmax.h"

#include <cmath>

namespace textgen {

void Softmax(float* x, int64_t n) {
  float max_value = x[0];
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] > max_value) max_value = x[i];
  }

  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }

  for (int64_t i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace textgen
