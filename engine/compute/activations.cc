#include "engine/compute/activations.h"

#include <cmath>

namespace textgen {

void SwiGlu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float z = gate[i];
    gate[i] = z * (1.0f / (1.0f + std::exp(-z))) * up[i];
  }
}

void AddResidual(float* x, const float* delta, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += delta[i];
}

}  // namespace textgen
