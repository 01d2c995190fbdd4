#ifndef TEXTGEN_ENGINE_COMPUTE_ROPE_H_
#define TEXTGEN_ENGINE_COMPUTE_ROPE_H_

#include <cstdint>

namespace textgen {

// Rotary position embedding in the interleaved form of the original Llama
// code: within each head, the pair (x[2i], x[2i+1]) is rotated by the angle
//   theta = position * freq_base^(-2i / head_dim)
// that is, (a, b) -> (a cos theta - b sin theta, a sin theta + b cos theta).
// `vectors` is [n_heads, head_dim] for one token at `position`.
void ApplyRope(float* vectors, int64_t n_heads, int64_t head_dim, int64_t position,
               float freq_base);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_ROPE_H_
