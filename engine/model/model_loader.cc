#include "engine/model/model_loader.h"

#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/format/gguf_model_reader.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/llama2c_reader.h"
#include "engine/model/gpt2_model.h"
#include "engine/model/llama_model.h"
#include "engine/tokenizer/byte_level_bpe.h"
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

std::string FileStem(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

// Fills the fields every loader sets the same way once the tokenizer exists.
void FinishLoadedModel(std::unique_ptr<Tokenizer> tokenizer, bool add_bos, LoadedModel& loaded) {
  loaded.end_of_sequence_ids = {tokenizer->eos_id()};
  if (tokenizer->bos_id() != tokenizer->eos_id()) {
    loaded.end_of_sequence_ids.push_back(tokenizer->bos_id());
  }
  loaded.tokenizer = std::move(tokenizer);
  loaded.add_bos = add_bos;
}

absl::Status OverrideContextLength(const ModelFiles& files, int& context_length,
                                   bool positions_are_learned) {
  if (files.context_length <= 0) return absl::OkStatus();
  if (positions_are_learned && files.context_length > context_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.model_path, ": context length ", files.context_length,
        " was requested, but this model has learned position embeddings for only ",
        context_length, " positions"));
  }
  context_length = files.context_length;
  return absl::OkStatus();
}

// The type to pack weights in: the requested one, or f32 for f32 files and
// bf16 for files stored in 16 bits.
WeightType ChooseWeightType(const ModelFiles& files, const GgufFile* file) {
  if (files.weight_type.has_value()) return *files.weight_type;
  if (file != nullptr) {
    const GgufTensorInfo* embedding = file->FindTensor("token_embd.weight");
    if (embedding != nullptr && embedding->type != GgufTensorType::kF32) return WeightType::kBF16;
  }
  return WeightType::kF32;
}

absl::StatusOr<LoadedModel> LoadLlama2c(const ModelFiles& files) {
  if (files.tokenizer_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        files.model_path,
        ": not a GGUF file (it does not start with the bytes \"GGUF\"); if it is a llama2.c "
        "checkpoint, pass its tokenizer file with --tokenizer"));
  }

  ASSIGN_OR_RETURN(LlamaWeights weights, ReadLlama2cCheckpoint(files.model_path));
  RETURN_IF_ERROR(OverrideContextLength(files, weights.config.context_length, false));
  ASSIGN_OR_RETURN(SentencePieceVocabulary vocabulary,
                   ReadLlama2cTokenizer(files.tokenizer_path, weights.config.vocab_size));
  ASSIGN_OR_RETURN(SentencePieceBpe tokenizer, SentencePieceBpe::Create(std::move(vocabulary)));

  LoadedModel loaded;
  loaded.model = std::make_unique<LlamaModel>(weights, ChooseWeightType(files, nullptr),
                                              FileStem(files.model_path));
  FinishLoadedModel(std::make_unique<SentencePieceBpe>(std::move(tokenizer)), true, loaded);
  return loaded;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& file) {
  ASSIGN_OR_RETURN(std::string model, file.GetString("tokenizer.ggml.model"));
  if (model == "llama") {
    ASSIGN_OR_RETURN(SentencePieceVocabulary vocabulary, ReadSentencePieceVocabulary(file));
    ASSIGN_OR_RETURN(SentencePieceBpe tokenizer, SentencePieceBpe::Create(std::move(vocabulary)));
    return std::make_unique<SentencePieceBpe>(std::move(tokenizer));
  }
  if (model == "gpt2") {
    ASSIGN_OR_RETURN(ByteLevelBpeVocabulary vocabulary, ReadByteLevelBpeVocabulary(file));
    ASSIGN_OR_RETURN(ByteLevelBpe tokenizer, ByteLevelBpe::Create(std::move(vocabulary)));
    return std::make_unique<ByteLevelBpe>(std::move(tokenizer));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(file.path(), ": tokenizer.ggml.model is \"", model,
                   "\", expected \"llama\" (SentencePiece BPE) or \"gpt2\" (byte-level BPE)"));
}

// Whether text prompts start with BOS: tokenizer.ggml.add_bos_token when the
// file sets it, otherwise llama.cpp's default for the tokenizer kind (yes for
// SentencePiece, no for GPT-2's byte-level BPE).
absl::StatusOr<bool> ReadAddBos(const GgufFile& file) {
  if (file.HasKey("tokenizer.ggml.add_bos_token")) {
    return file.GetBool("tokenizer.ggml.add_bos_token");
  }
  ASSIGN_OR_RETURN(std::string model, file.GetString("tokenizer.ggml.model"));
  return model == "llama";
}

std::string ModelName(const GgufFile& file) {
  if (file.HasKey("general.name")) {
    absl::StatusOr<std::string> name = file.GetString("general.name");
    if (name.ok() && !name->empty()) return *name;
  }
  return FileStem(file.path());
}

absl::StatusOr<LoadedModel> LoadGguf(const ModelFiles& files) {
  ASSIGN_OR_RETURN(GgufFile file, files.model_bytes.empty()
                                      ? GgufFile::Open(files.model_path)
                                      : GgufFile::FromMemory(files.model_bytes, files.model_path));
  ASSIGN_OR_RETURN(std::string architecture, file.GetString("general.architecture"));
  const WeightType weight_type = ChooseWeightType(files, &file);

  LoadedModel loaded;
  if (architecture == "llama") {
    ASSIGN_OR_RETURN(LlamaWeights weights, ReadLlamaWeights(file));
    RETURN_IF_ERROR(OverrideContextLength(files, weights.config.context_length, false));
    loaded.model = std::make_unique<LlamaModel>(weights, weight_type, ModelName(file));
  } else if (architecture == "gpt2") {
    ASSIGN_OR_RETURN(Gpt2Weights weights, ReadGpt2Weights(file));
    RETURN_IF_ERROR(OverrideContextLength(files, weights.config.context_length, true));
    loaded.model = std::make_unique<Gpt2Model>(weights, weight_type, ModelName(file));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(files.model_path, ": general.architecture is \"", architecture,
                     "\", expected one of the supported architectures: llama, gpt2"));
  }

  // The weights readers took the vocabulary size from tokenizer.ggml.tokens,
  // so model and tokenizer agree by construction.
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadGgufTokenizer(file));
  ASSIGN_OR_RETURN(bool add_bos, ReadAddBos(file));
  FinishLoadedModel(std::move(tokenizer), add_bos, loaded);
  return loaded;
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const ModelFiles& files) {
  if (!files.model_bytes.empty()) return LoadGguf(files);
  ASSIGN_OR_RETURN(bool is_gguf, IsGguf(files.model_path));
  if (is_gguf) return LoadGguf(files);
  return LoadLlama2c(files);
}

}  // namespace textgen
