#ifndef TEXTGEN_ENGINE_MODEL_MODEL_LOADER_H_
#define TEXTGEN_ENGINE_MODEL_MODEL_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/compute/weight_type.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

struct ModelFiles {
  std::string model_path;      // a GGUF file or a llama2.c legacy checkpoint (.bin)
  // A GGUF image in memory to load instead of model_path, which then only
  // names it in messages. The bytes must outlive the LoadedModel.
  absl::Span<const uint8_t> model_bytes;
  std::string tokenizer_path;  // a llama2.c tokenizer file, needed for .bin checkpoints
  // The type weights are packed in; unset keeps f32 for f32 files and bf16
  // for f16 and bf16 files.
  std::optional<WeightType> weight_type;
  // Replaces the context length the file states; 0 keeps it. A Llama model
  // may go beyond the length it was trained on, because its rotary embedding
  // has no limit, though quality may drop. A GPT-2 model cannot, because its
  // positions are learned.
  int context_length = 0;
};

// A model ready to serve: the network, its tokenizer and the tokens that end
// a sequence. A sampled BOS also ends a sequence, because it starts a new
// document; llama2.c's stories models rely on this.
struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int32_t> end_of_sequence_ids;
  bool add_bos = true;  // whether text prompts start with the BOS token
};

// Reads the files, checks that model and tokenizer agree, and packs the
// weights for the compute backend.
absl::StatusOr<LoadedModel> LoadModel(const ModelFiles& files);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_MODEL_LOADER_H_
