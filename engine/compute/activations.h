#ifndef TEXTGEN_ENGINE_COMPUTE_ACTIVATIONS_H_
#define TEXTGEN_ENGINE_COMPUTE_ACTIVATIONS_H_

#include <cstdint>

namespace textgen {

// SwiGLU gating of the Llama feed-forward layer, in place on `gate` [n]:
//   gate[i] = silu(gate[i]) * up[i],  silu(z) = z / (1 + exp(-z))
void SwiGlu(float* gate, const float* up, int64_t n);

// GELU with the tanh approximation that GPT-2 was trained with, in place on
// x [n]:
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
void GeluTanh(float* x, int64_t n);

// Adds bias [cols] to every row of x [rows, cols].
void AddBias(float* x, const float* bias, int64_t rows, int64_t cols);

// Adds `delta` [n] to `x` [n]: a residual connection.
void AddResidual(float* x, const float* delta, int64_t n);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_ACTIVATIONS_H_
