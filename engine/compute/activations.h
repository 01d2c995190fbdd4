#ifndef TEXTGEN_ENGINE_COMPUTE_ACTIVATIONS_H_
#define TEXTGEN_ENGINE_COMPUTE_ACTIVATIONS_H_

#include <cstdint>

namespace textgen {

// SwiGLU gating of the Llama feed-forward layer, in place on `gate` [n]:
//   gate[i] = silu(gate[i]) * up[i],  silu(z) = z / (1 + exp(-z))
void SwiGlu(float* gate, const float* up, int64_t n);

// Adds `delta` [n] to `x` [n]: a residual connection.
void AddResidual(float* x, const float* delta, int64_t n);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_ACTIVATIONS_H_
