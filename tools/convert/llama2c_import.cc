#include "tools/convert/llama2c_import.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/format/llama2c_reader.h"
#include "engine/model/llama_weights.h"
#include "engine/util/status_macros.h"
#include "tools/convert/gguf_tensor_layout.h"

namespace textgen {
namespace {

// run.c uses these fixed ids.
constexpr int kUnknownId = 0;
constexpr int kBosId = 1;
constexpr int kEosId = 2;

// SentencePiece's marker for a space.
constexpr char kSpaceMarker[] = "\xE2\x96\x81";

// Returns the tensors of `weights` in the order of LlamaTensorSpecs, so each
// can be written and then released.
std::vector<std::vector<float>*> TensorsInSpecOrder(LlamaWeights& weights) {
  std::vector<std::vector<float>*> tensors = {&weights.token_embedding};
  for (LlamaLayerWeights& layer : weights.layers) {
    for (std::vector<float>* tensor :
         {&layer.attention_norm, &layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.ffn_norm,
          &layer.w_gate, &layer.w_up, &layer.w_down}) {
      tensors.push_back(tensor);
    }
  }
  tensors.push_back(&weights.final_norm);
  if (!weights.config.shared_classifier) tensors.push_back(&weights.classifier);
  return tensors;
}

}  // namespace

TokenizerMetadata Llama2cTokenizerMetadata(const SentencePieceVocabulary& vocabulary) {
  TokenizerMetadata tokenizer;
  tokenizer.model = "llama";
  tokenizer.scores = vocabulary.scores;
  tokenizer.bos_id = kBosId;
  tokenizer.eos_id = kEosId;
  tokenizer.unknown_id = kUnknownId;
  tokenizer.add_bos = true;

  const int size = static_cast<int>(vocabulary.pieces.size());
  tokenizer.tokens.reserve(size);
  tokenizer.token_types.reserve(size);
  for (int id = 0; id < size; ++id) {
    std::string piece = vocabulary.pieces[id];
    TokenType type = TokenType::kNormal;
    if (id == kUnknownId) {
      type = TokenType::kUnknown;
    } else if (id == kBosId || id == kEosId) {
      // llama2.c stores "\n<s>\n" and "\n</s>\n" so that run.c prints
      // newlines around documents; the SentencePiece pieces are "<s>" and
      // "</s>".
      type = TokenType::kControl;
      piece = std::string(absl::StripAsciiWhitespace(piece));
    } else if (IsBytePiece(piece)) {
      type = TokenType::kByte;
    }
    tokenizer.tokens.push_back(absl::StrReplaceAll(piece, {{" ", kSpaceMarker}}));
    tokenizer.token_types.push_back(type);
  }
  return tokenizer;
}

absl::StatusOr<GgufWriter> ImportLlama2c(const std::string& checkpoint_path,
                                         const std::string& tokenizer_path,
                                         GgufTensorType matrix_type) {
  ASSIGN_OR_RETURN(LlamaWeights weights, ReadLlama2cCheckpoint(checkpoint_path));
  ASSIGN_OR_RETURN(SentencePieceVocabulary vocabulary,
                   ReadLlama2cTokenizer(tokenizer_path, weights.config.vocab_size));
  TokenizerMetadata tokenizer = Llama2cTokenizerMetadata(vocabulary);
  RETURN_IF_ERROR(tokenizer.Validate(tokenizer_path));

  GgufWriter writer;
  SetLlamaHyperparameters(writer, weights.config,
                          std::filesystem::path(checkpoint_path).stem().string());
  SetFileType(writer, matrix_type);
  SetTokenizerKeys(writer, tokenizer);

  const std::vector<TensorSpec> specs = LlamaTensorSpecs(weights.config);
  std::vector<std::vector<float>*> tensors = TensorsInSpecOrder(weights);
  for (size_t i = 0; i < specs.size(); ++i) {
    RETURN_IF_ERROR(AddModelTensor(writer, specs[i], matrix_type, *tensors[i]));
    // The writer keeps its own encoded copy, so the f32 source can go.
    std::vector<float>().swap(*tensors[i]);
  }
  return writer;
}

}  // namespace textgen
