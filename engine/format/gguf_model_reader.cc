#include "engine/format/gguf_model_reader.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

using Dims = std::vector<uint64_t>;

// llama.cpp's token type for control tokens such as BOS and EOS.
constexpr int32_t kControlTokenType = 3;

// Reads an integer hyperparameter that must fit an int.
absl::StatusOr<int> ReadSize(const GgufFile& file, const std::string& key) {
  ASSIGN_OR_RETURN(uint32_t value, file.GetUint32(key));
  if (value > (1u << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.path(), ": metadata key ", key, " is ", value, ", expected at most 2^30"));
  }
  return static_cast<int>(value);
}

// Returns the length of the tokenizer.ggml.tokens array: the vocabulary size.
absl::StatusOr<int> ReadVocabSize(const GgufFile& file) {
  ASSIGN_OR_RETURN(std::vector<std::string> tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  return static_cast<int>(tokens.size());
}

std::string LayerTensor(int layer, const char* suffix) {
  return absl::StrCat("blk.", layer, ".", suffix);
}

// Reads the classifier if the file stores one; an absent output.weight means
// the classifier is tied to the token embedding.
absl::Status ReadClassifier(const GgufFile& file, uint64_t dim, uint64_t vocab,
                            bool& shared_classifier, std::vector<float>& classifier) {
  shared_classifier = file.FindTensor("output.weight") == nullptr;
  if (shared_classifier) return absl::OkStatus();
  ASSIGN_OR_RETURN(classifier, file.ReadTensorF32("output.weight", {dim, vocab}));
  return absl::OkStatus();
}

absl::StatusOr<LlamaConfig> ReadLlamaConfig(const GgufFile& file) {
  LlamaConfig config;
  ASSIGN_OR_RETURN(config.dim, ReadSize(file, "llama.embedding_length"));
  ASSIGN_OR_RETURN(config.hidden_dim, ReadSize(file, "llama.feed_forward_length"));
  ASSIGN_OR_RETURN(config.n_layers, ReadSize(file, "llama.block_count"));
  ASSIGN_OR_RETURN(config.n_heads, ReadSize(file, "llama.attention.head_count"));
  config.n_kv_heads = config.n_heads;
  if (file.HasKey("llama.attention.head_count_kv")) {
    ASSIGN_OR_RETURN(config.n_kv_heads, ReadSize(file, "llama.attention.head_count_kv"));
  }
  ASSIGN_OR_RETURN(config.context_length, ReadSize(file, "llama.context_length"));
  ASSIGN_OR_RETURN(config.vocab_size, ReadVocabSize(file));
  ASSIGN_OR_RETURN(config.rms_norm_epsilon,
                   file.GetFloat32("llama.attention.layer_norm_rms_epsilon"));
  if (file.HasKey("llama.rope.freq_base")) {
    ASSIGN_OR_RETURN(config.rope_freq_base, file.GetFloat32("llama.rope.freq_base"));
  }
  RETURN_IF_ERROR(config.Validate(file.path()));

  if (file.HasKey("llama.rope.dimension_count")) {
    ASSIGN_OR_RETURN(int rope_dims, ReadSize(file, "llama.rope.dimension_count"));
    if (rope_dims != config.head_dim()) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.path(), ": llama.rope.dimension_count is ", rope_dims,
          ", expected the head size ", config.head_dim(), " (partial rotary embedding is not supported)"));
    }
  }
  if (config.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": head size is ",
                                                   config.head_dim(), ", expected an even number"));
  }
  return config;
}

absl::StatusOr<Gpt2Config> ReadGpt2Config(const GgufFile& file) {
  Gpt2Config config;
  ASSIGN_OR_RETURN(config.dim, ReadSize(file, "gpt2.embedding_length"));
  ASSIGN_OR_RETURN(config.hidden_dim, ReadSize(file, "gpt2.feed_forward_length"));
  ASSIGN_OR_RETURN(config.n_layers, ReadSize(file, "gpt2.block_count"));
  ASSIGN_OR_RETURN(config.n_heads, ReadSize(file, "gpt2.attention.head_count"));
  ASSIGN_OR_RETURN(config.context_length, ReadSize(file, "gpt2.context_length"));
  ASSIGN_OR_RETURN(config.vocab_size, ReadVocabSize(file));
  ASSIGN_OR_RETURN(config.layer_norm_epsilon, file.GetFloat32("gpt2.attention.layer_norm_epsilon"));
  RETURN_IF_ERROR(config.Validate(file.path()));
  return config;
}

}  // namespace

absl::StatusOr<LlamaWeights> ReadLlamaWeights(const GgufFile& file) {
  LlamaWeights weights;
  ASSIGN_OR_RETURN(weights.config, ReadLlamaConfig(file));
  const LlamaConfig& c = weights.config;
  const uint64_t dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), vocab = c.vocab_size;

  ASSIGN_OR_RETURN(weights.token_embedding, file.ReadTensorF32("token_embd.weight", {dim, vocab}));
  weights.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    LlamaLayerWeights& layer = weights.layers[l];
    ASSIGN_OR_RETURN(layer.attention_norm, file.ReadTensorF32(LayerTensor(l, "attn_norm.weight"), {dim}));
    ASSIGN_OR_RETURN(layer.wq, file.ReadTensorF32(LayerTensor(l, "attn_q.weight"), {dim, dim}));
    ASSIGN_OR_RETURN(layer.wk, file.ReadTensorF32(LayerTensor(l, "attn_k.weight"), {dim, kv_dim}));
    ASSIGN_OR_RETURN(layer.wv, file.ReadTensorF32(LayerTensor(l, "attn_v.weight"), {dim, kv_dim}));
    ASSIGN_OR_RETURN(layer.wo, file.ReadTensorF32(LayerTensor(l, "attn_output.weight"), {dim, dim}));
    ASSIGN_OR_RETURN(layer.ffn_norm, file.ReadTensorF32(LayerTensor(l, "ffn_norm.weight"), {dim}));
    ASSIGN_OR_RETURN(layer.w_gate, file.ReadTensorF32(LayerTensor(l, "ffn_gate.weight"), {dim, hidden}));
    ASSIGN_OR_RETURN(layer.w_up, file.ReadTensorF32(LayerTensor(l, "ffn_up.weight"), {dim, hidden}));
    ASSIGN_OR_RETURN(layer.w_down, file.ReadTensorF32(LayerTensor(l, "ffn_down.weight"), {hidden, dim}));
  }
  ASSIGN_OR_RETURN(weights.final_norm, file.ReadTensorF32("output_norm.weight", {dim}));
  RETURN_IF_ERROR(ReadClassifier(file, dim, vocab, weights.config.shared_classifier,
                                 weights.classifier));
  return weights;
}

absl::StatusOr<Gpt2Weights> ReadGpt2Weights(const GgufFile& file) {
  Gpt2Weights weights;
  ASSIGN_OR_RETURN(weights.config, ReadGpt2Config(file));
  const Gpt2Config& c = weights.config;
  const uint64_t dim = c.dim, hidden = c.hidden_dim, vocab = c.vocab_size;

  ASSIGN_OR_RETURN(weights.token_embedding, file.ReadTensorF32("token_embd.weight", {dim, vocab}));
  ASSIGN_OR_RETURN(weights.position_embedding,
                   file.ReadTensorF32("position_embd.weight",
                                      {dim, static_cast<uint64_t>(c.context_length)}));
  weights.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    Gpt2LayerWeights& layer = weights.layers[l];
    ASSIGN_OR_RETURN(layer.attention_norm_weight, file.ReadTensorF32(LayerTensor(l, "attn_norm.weight"), {dim}));
    ASSIGN_OR_RETURN(layer.attention_norm_bias, file.ReadTensorF32(LayerTensor(l, "attn_norm.bias"), {dim}));
    ASSIGN_OR_RETURN(layer.qkv_weight, file.ReadTensorF32(LayerTensor(l, "attn_qkv.weight"), {dim, 3 * dim}));
    ASSIGN_OR_RETURN(layer.qkv_bias, file.ReadTensorF32(LayerTensor(l, "attn_qkv.bias"), {3 * dim}));
    ASSIGN_OR_RETURN(layer.output_weight, file.ReadTensorF32(LayerTensor(l, "attn_output.weight"), {dim, dim}));
    ASSIGN_OR_RETURN(layer.output_bias, file.ReadTensorF32(LayerTensor(l, "attn_output.bias"), {dim}));
    ASSIGN_OR_RETURN(layer.ffn_norm_weight, file.ReadTensorF32(LayerTensor(l, "ffn_norm.weight"), {dim}));
    ASSIGN_OR_RETURN(layer.ffn_norm_bias, file.ReadTensorF32(LayerTensor(l, "ffn_norm.bias"), {dim}));
    ASSIGN_OR_RETURN(layer.up_weight, file.ReadTensorF32(LayerTensor(l, "ffn_up.weight"), {dim, hidden}));
    ASSIGN_OR_RETURN(layer.up_bias, file.ReadTensorF32(LayerTensor(l, "ffn_up.bias"), {hidden}));
    ASSIGN_OR_RETURN(layer.down_weight, file.ReadTensorF32(LayerTensor(l, "ffn_down.weight"), {hidden, dim}));
    ASSIGN_OR_RETURN(layer.down_bias, file.ReadTensorF32(LayerTensor(l, "ffn_down.bias"), {dim}));
  }
  ASSIGN_OR_RETURN(weights.final_norm_weight, file.ReadTensorF32("output_norm.weight", {dim}));
  ASSIGN_OR_RETURN(weights.final_norm_bias, file.ReadTensorF32("output_norm.bias", {dim}));
  RETURN_IF_ERROR(ReadClassifier(file, dim, vocab, weights.config.shared_classifier,
                                 weights.classifier));
  return weights;
}

absl::StatusOr<SentencePieceVocabulary> ReadSentencePieceVocabulary(const GgufFile& file) {
  SentencePieceVocabulary vocabulary;
  ASSIGN_OR_RETURN(vocabulary.pieces, file.GetStringArray("tokenizer.ggml.tokens"));
  const size_t size = vocabulary.pieces.size();
  if (file.HasKey("tokenizer.ggml.scores")) {
    ASSIGN_OR_RETURN(vocabulary.scores, file.GetFloat32Array("tokenizer.ggml.scores"));
  } else {
    vocabulary.scores.assign(size, 0.0f);
  }
  std::vector<int32_t> types;
  if (file.HasKey("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(types, file.GetInt32Array("tokenizer.ggml.token_type"));
    if (types.size() != size) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.path(), ": tokenizer.ggml.token_type has ", types.size(), " entries, expected ",
          size, " (one per token in tokenizer.ggml.tokens)"));
    }
  }

  for (size_t id = 0; id < size; ++id) {
    std::string& piece = vocabulary.pieces[id];
    if (!types.empty() && types[id] == kControlTokenType) {
      piece.clear();
    } else {
      piece = absl::StrReplaceAll(piece, {{"\xE2\x96\x81", " "}});
    }
  }

  ASSIGN_OR_RETURN(uint32_t bos, file.GetUint32("tokenizer.ggml.bos_token_id"));
  ASSIGN_OR_RETURN(uint32_t eos, file.GetUint32("tokenizer.ggml.eos_token_id"));
  vocabulary.bos_id = static_cast<int32_t>(bos);
  vocabulary.eos_id = static_cast<int32_t>(eos);
  return vocabulary;
}

absl::StatusOr<ByteLevelBpeVocabulary> ReadByteLevelBpeVocabulary(const GgufFile& file) {
  ByteLevelBpeVocabulary vocabulary;
  ASSIGN_OR_RETURN(vocabulary.tokens, file.GetStringArray("tokenizer.ggml.tokens"));
  ASSIGN_OR_RETURN(vocabulary.merges, file.GetStringArray("tokenizer.ggml.merges"));
  if (file.HasKey("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(vocabulary.token_types, file.GetInt32Array("tokenizer.ggml.token_type"));
  }
  ASSIGN_OR_RETURN(uint32_t bos, file.GetUint32("tokenizer.ggml.bos_token_id"));
  ASSIGN_OR_RETURN(uint32_t eos, file.GetUint32("tokenizer.ggml.eos_token_id"));
  vocabulary.bos_id = static_cast<int32_t>(bos);
  vocabulary.eos_id = static_cast<int32_t>(eos);
  return vocabulary;
}

}  // namespace textgen
