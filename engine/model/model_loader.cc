#include "engine/model/model_loader.h"

#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/format/llama2c_reader.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/sentencepiece_bpe.h"
#include "engine/util/mapped_file.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

// Returns true when the file starts with GGUF's magic bytes.
absl::StatusOr<bool> IsGguf(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  absl::Span<const uint8_t> bytes = file.bytes();
  return bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0;
}

absl::StatusOr<LoadedModel> LoadLlama2c(const ModelFiles& files) {
  if (files.tokenizer_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.model_path, ": llama2.c checkpoints carry no vocabulary; pass the matching "
                          "llama2.c tokenizer file with --tokenizer"));
  }

  ASSIGN_OR_RETURN(LlamaWeights weights, ReadLlama2cCheckpoint(files.model_path));
  ASSIGN_OR_RETURN(SentencePieceVocabulary vocabulary,
                   ReadLlama2cTokenizer(files.tokenizer_path, weights.config.vocab_size));
  ASSIGN_OR_RETURN(SentencePieceBpe tokenizer, SentencePieceBpe::Create(std::move(vocabulary)));

  LoadedModel loaded;
  std::string name = std::filesystem::path(files.model_path).stem().string();
  loaded.model = std::make_unique<LlamaModel>(weights, files.weight_type.value_or(WeightType::kF32),
                                              std::move(name));
  // In llama2.c's training data BOS separates stories, so a sampled BOS
  // ends the story as EOS does.
  loaded.end_of_sequence_ids = {tokenizer.bos_id(), tokenizer.eos_id()};
  loaded.tokenizer = std::make_unique<SentencePieceBpe>(std::move(tokenizer));
  loaded.add_bos = true;
  return loaded;
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const ModelFiles& files) {
  ASSIGN_OR_RETURN(bool is_gguf, IsGguf(files.model_path));
  if (is_gguf) {
    return absl::UnimplementedError(
        absl::StrCat(files.model_path, ": GGUF files are not supported yet; pass a llama2.c "
                                       "legacy checkpoint (.bin) with --tokenizer"));
  }
  return LoadLlama2c(files);
}

}  // namespace textgen
