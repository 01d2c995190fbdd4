#ifndef TEXTGEN_ENGINE_MODEL_MODEL_LOADER_H_
#define TEXTGEN_ENGINE_MODEL_MODEL_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/compute/weight_type.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

struct ModelFiles {
  std::string model_path;      // a llama2.c legacy checkpoint (.bin)
  std::string tokenizer_path;  // a llama2.c tokenizer file, needed for .bin checkpoints
  // The type weights are packed in; unset keeps the file's type.
  std::optional<WeightType> weight_type;
};

// A model ready to serve: the network, its tokenizer and the tokens that end
// a sequence.
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
