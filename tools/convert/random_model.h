#ifndef TEXTGEN_TOOLS_CONVERT_RANDOM_MODEL_H_
#define TEXTGEN_TOOLS_CONVERT_RANDOM_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "tools/convert/tokenizer_metadata.h"

namespace textgen {

// Returns the names --random accepts: gpt2-124m, gpt2-355m, gpt2-tiny,
// llama-110m, llama-15m and llama-tiny.
std::vector<std::string> RandomModelShapes();

struct RandomModelOptions {
  std::string shape;  // one of RandomModelShapes()
  GgufTensorType matrix_type = GgufTensorType::kF32;
  uint64_t seed = 0;
  // A GGUF file whose tokenizer.* keys a GPT-2 shape copies, such as
  // llama.cpp's ggml-vocab-gpt-2.gguf. Required for GPT-2 shapes and
  // rejected for Llama shapes.
  std::string vocab_path;
};

// Builds a model of a real architecture and shape with random weights, for
// benchmarks and tests: matrices and embeddings are normal with mean 0 and
// standard deviation 0.02, norm weights 1 and biases 0. The same options
// give the same file with the same build and C library, whose log and sqrt
// the normal distribution uses. The thread count does not matter, because
// each tensor is generated in fixed chunks, each from its own random stream
// seeded by the seed, the tensor's index and the chunk's index.
//
// GPT-2 shapes take their vocabulary from `vocab_path`; Llama shapes get
// SyntheticSentencePieceVocabulary.
absl::StatusOr<GgufWriter> BuildRandomModel(const RandomModelOptions& options);

// Returns a "llama" vocabulary of `size` tokens (at least 259 + 95) that the
// engine's SentencePiece tokenizer accepts: <unk>, <s>, </s>, the 256 byte
// pieces <0x00>..<0xFF>, the printable ASCII characters (space as U+2581),
// then strings over U+2581 and a..z in order of length. Scores fall with the
// id, so shorter pieces merge first.
TokenizerMetadata SyntheticSentencePieceVocabulary(int size);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_RANDOM_MODEL_H_
