#include "engine/compute/rope.h"

#include <cmath>

namespace textgen {

void ApplyRope(float* vectors, int64_t n_heads, int64_t head_dim, int64_t position,
               float freq_base) {
  for (int64_t i = 0; i < head_dim; i += 2) {
    // Same float expression as llama2.c computes, so greedy outputs match it
    // bit for bit rather than only approximately.
    float frequency = 1.0f / std::pow(freq_base, static_cast<float>(i) / static_cast<float>(head_dim));
    float angle = static_cast<float>(position) * frequency;
    float cos_angle = std::cos(angle);
    float sin_angle = std::sin(angle);

    for (int64_t h = 0; h < n_heads; ++h) {
      float* pair = vectors + h * head_dim + i;
      float a = pair[0];
      float b = pair[1];
      pair[0] = a * cos_angle - b * sin_angle;
      pair[1] = a * sin_angle + b * cos_angle;
    }
  }
}

}  // namespace textgen
