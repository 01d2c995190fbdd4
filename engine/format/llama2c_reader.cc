#include "engine/format/llama2c_reader.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/mapped_file.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

constexpr int kHeaderFields = 7;

// Reads `count` matrices of `rows * cols` values each, one per layer, as
// llama2.c stores a weight kind for all layers back to back.
absl::Status ReadPerLayer(ByteReader& reader, size_t rows, size_t cols, const char* field,
                          std::vector<LlamaLayerWeights>& layers,
                          std::vector<float> LlamaLayerWeights::*member) {
  for (LlamaLayerWeights& layer : layers) {
    ASSIGN_OR_RETURN(layer.*member, reader.ReadFloats(rows * cols, field));
  }
  return absl::OkStatus();
}

// Returns the number of f32 values a checkpoint with `config` holds after
// its header, so a file of the wrong size is rejected before any tensor is
// read. Uses 64-bit arithmetic: the header values are at most 2^31 each, so
// no product of three of them overflows.
uint64_t ExpectedFloatCount(const LlamaConfig& config) {
  uint64_t dim = config.dim, hidden = config.hidden_dim, layers = config.n_layers;
  uint64_t vocab = config.vocab_size, kv_dim = config.kv_dim();
  uint64_t head_dim = config.head_dim(), seq = config.context_length;
  uint64_t per_layer = dim                 // attention norm
                       + dim * dim         // wq
                       + 2 * dim * kv_dim  // wk, wv
                       + dim * dim         // wo
                       + dim               // ffn norm
                       + 3 * dim * hidden; // w1, w2, w3
  uint64_t count = vocab * dim + layers * per_layer + dim + seq * head_dim;  // freq_cis real+imag
  if (!config.shared_classifier) count += vocab * dim;
  return count;
}

absl::StatusOr<LlamaConfig> ReadHeader(ByteReader& reader) {
  const char* names[kHeaderFields] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                      "n_kv_heads", "vocab_size", "seq_len"};
  int32_t values[kHeaderFields];
  for (int i = 0; i < kHeaderFields; ++i) {
    ASSIGN_OR_RETURN(values[i], reader.ReadInt32(names[i]));
  }

  LlamaConfig config;
  config.dim = values[0];
  config.hidden_dim = values[1];
  config.n_layers = values[2];
  config.n_heads = values[3];
  config.n_kv_heads = values[4];
  // A negative vocab_size is llama2.c's way to mark a separate classifier.
  config.shared_classifier = values[5] > 0;
  config.vocab_size = values[5] == INT32_MIN ? 0 : std::abs(values[5]);
  config.context_length = values[6];
  RETURN_IF_ERROR(config.Validate(reader.source()));
  if (config.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(reader.source(), ": header field dim / n_heads is ", config.head_dim(),
                     ", expected an even head size for rotary embeddings"));
  }
  return config;
}

}  // namespace

absl::StatusOr<LlamaWeights> ReadLlama2cCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  ByteReader reader(file.bytes(), path);

  LlamaWeights weights;
  ASSIGN_OR_RETURN(weights.config, ReadHeader(reader));
  const LlamaConfig& config = weights.config;

  uint64_t expected_bytes = ExpectedFloatCount(config) * sizeof(float);
  if (expected_bytes != reader.remaining()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": file size is ", file.bytes().size(), " bytes, expected ",
        expected_bytes + reader.offset(), " for the header's dim=", config.dim,
        " hidden_dim=", config.hidden_dim, " n_layers=", config.n_layers,
        " n_heads=", config.n_heads, " n_kv_heads=", config.n_kv_heads,
        " vocab_size=", config.vocab_size, " seq_len=", config.context_length,
        config.shared_classifier ? " (shared classifier)" : " (separate classifier)",
        "; is this a llama2.c legacy checkpoint?"));
  }

  size_t dim = config.dim, hidden = config.hidden_dim, kv_dim = config.kv_dim();
  size_t vocab = config.vocab_size;
  weights.layers.resize(config.n_layers);
  auto& layers = weights.layers;
  using L = LlamaLayerWeights;

  ASSIGN_OR_RETURN(weights.token_embedding, reader.ReadFloats(vocab * dim, "token_embedding_table"));
  RETURN_IF_ERROR(ReadPerLayer(reader, 1, dim, "rms_att_weight", layers, &L::attention_norm));
  RETURN_IF_ERROR(ReadPerLayer(reader, dim, dim, "wq", layers, &L::wq));
  RETURN_IF_ERROR(ReadPerLayer(reader, kv_dim, dim, "wk", layers, &L::wk));
  RETURN_IF_ERROR(ReadPerLayer(reader, kv_dim, dim, "wv", layers, &L::wv));
  RETURN_IF_ERROR(ReadPerLayer(reader, dim, dim, "wo", layers, &L::wo));
  RETURN_IF_ERROR(ReadPerLayer(reader, 1, dim, "rms_ffn_weight", layers, &L::ffn_norm));
  RETURN_IF_ERROR(ReadPerLayer(reader, hidden, dim, "w1", layers, &L::w_gate));
  RETURN_IF_ERROR(ReadPerLayer(reader, dim, hidden, "w2", layers, &L::w_down));
  RETURN_IF_ERROR(ReadPerLayer(reader, hidden, dim, "w3", layers, &L::w_up));
  ASSIGN_OR_RETURN(weights.final_norm, reader.ReadFloats(dim, "rms_final_weight"));

  // The precomputed rotary tables are not needed: the forward pass computes
  // the same angles from rope_freq_base.
  size_t freq_cis_bytes = static_cast<size_t>(config.context_length) * config.head_dim() *
                          sizeof(float);
  RETURN_IF_ERROR(reader.Skip(freq_cis_bytes, "freq_cis_real and freq_cis_imag"));

  if (!config.shared_classifier) {
    ASSIGN_OR_RETURN(weights.classifier, reader.ReadFloats(vocab * dim, "wcls"));
  }
  return weights;
}

absl::StatusOr<SentencePieceVocabulary> ReadLlama2cTokenizer(const std::string& path,
                                                            int vocab_size) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  ByteReader reader(file.bytes(), path);

  ASSIGN_OR_RETURN(int32_t max_token_length, reader.ReadInt32("max_token_length"));
  if (max_token_length <= 0 || max_token_length > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": max_token_length is ", max_token_length,
                     ", expected 1 to 1024; is this a llama2.c tokenizer file?"));
  }

  SentencePieceVocabulary vocabulary;
  vocabulary.pieces.reserve(vocab_size);
  vocabulary.scores.reserve(vocab_size);
  for (int id = 0; id < vocab_size; ++id) {
    std::string field = absl::StrCat("score of token ", id);
    ASSIGN_OR_RETURN(float score, reader.ReadFloat(field.c_str()));
    field = absl::StrCat("length of token ", id);
    ASSIGN_OR_RETURN(int32_t length, reader.ReadInt32(field.c_str()));
    if (length < 0 || length > max_token_length) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": token ", id, " has length ", length,
                                                     ", expected 0 to max_token_length (",
                                                     max_token_length, ")"));
    }
    field = absl::StrCat("bytes of token ", id);
    ASSIGN_OR_RETURN(std::string piece, reader.ReadBytes(length, field.c_str()));
    vocabulary.scores.push_back(score);
    vocabulary.pieces.push_back(std::move(piece));
  }

  if (reader.remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", reader.remaining(), " bytes follow the last of ", vocab_size,
                     " tokens; expected the file to end there. Does the tokenizer belong to a "
                     "model with a different vocab_size?"));
  }
  return vocabulary;
}

}  // namespace textgen
