#include "tools/convert/hf_import.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/util/status_macros.h"
#include "tools/convert/gguf_tensor_layout.h"
#include "tools/convert/hf_config.h"
#include "tools/convert/hf_tokenizer.h"
#include "tools/convert/safetensors_reader.h"
#include "tools/convert/tokenizer_metadata.h"

namespace textgen {
namespace {

std::string FormatShape(const std::vector<uint64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The change a Hugging Face tensor needs to become a GGUF tensor.
enum class Transform {
  kCopy,
  kTranspose,      // HF GPT-2's Conv1D stores [in, out], and GGUF wants [out, in]
  kPermuteRotary,  // q or k projection: "rotate half" to adjacent pairs
};

struct Source {
  std::string hf_name;
  Transform transform = Transform::kCopy;
  int heads = 0;  // for kPermuteRotary: the number of heads in the matrix
};

// The tensors of all *.safetensors files of a folder, each usable once, so
// that tensors left over at the end can be reported.
class TensorStore {
 public:
  static absl::StatusOr<TensorStore> Open(const std::string& folder) {
    std::vector<std::string> paths;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
      if (entry.is_regular_file() && entry.path().extension() == ".safetensors") {
        paths.push_back(entry.path().string());
      }
    }
    if (error) {
      return absl::NotFoundError(
          absl::StrCat(folder, ": cannot list the folder: ", error.message()));
    }
    if (paths.empty()) {
      return absl::NotFoundError(absl::StrCat(
          folder, ": no *.safetensors file, expected the weights in safetensors format "
                  "(PyTorch .bin checkpoints are not supported)"));
    }
    std::sort(paths.begin(), paths.end());

    TensorStore store;
    for (const std::string& path : paths) {
      ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
      store.files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
      const SafetensorsFile& added = *store.files_.back();
      for (const SafetensorsTensor& tensor : added.tensors()) {
        auto [it, inserted] = store.entries_.emplace(tensor.name, Entry{&added, &tensor, false});
        if (!inserted) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": tensor ", tensor.name, " is also in ", it->second.file->path(),
                           ", expected each tensor in one file only"));
        }
      }
    }
    return store;
  }

  bool Contains(const std::string& name) const { return entries_.contains(name); }

  // Marks a tensor as used without reading it.
  void Skip(const std::string& name) {
    auto it = entries_.find(name);
    if (it != entries_.end()) it->second.used = true;
  }

  // Reads a tensor as f32 after checking its row-major shape.
  absl::StatusOr<std::vector<float>> Read(const std::string& folder, const std::string& name,
                                          const std::vector<uint64_t>& expected_shape) {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat(folder, ": tensor ", name,
                                              " is missing from the *.safetensors files, "
                                              "expected shape ",
                                              FormatShape(expected_shape)));
    }
    Entry& entry = it->second;
    if (entry.tensor->shape != expected_shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          entry.file->path(), ": tensor ", name, " has shape ", FormatShape(entry.tensor->shape),
          ", expected ", FormatShape(expected_shape), " from config.json"));
    }
    entry.used = true;
    return entry.file->ReadF32(*entry.tensor);
  }

  // Fails when a tensor was neither read nor skipped.
  absl::Status CheckAllUsed() const {
    std::vector<std::string> unused;
    for (const auto& [name, entry] : entries_) {
      if (!entry.used) unused.push_back(name);
    }
    if (unused.empty()) return absl::OkStatus();
    std::sort(unused.begin(), unused.end());
    const size_t listed_count = std::min<size_t>(unused.size(), 5);
    return absl::InvalidArgumentError(absl::StrCat(
        files_.front()->path(), " and its sibling files: ", unused.size(),
        " tensors the converter does not know, such as ",
        absl::StrJoin(unused.begin(), unused.begin() + listed_count, ", "),
        "; expected only the tensors of a Hugging Face GPT-2 or Llama model"));
  }

 private:
  struct Entry {
    const SafetensorsFile* file;
    const SafetensorsTensor* tensor;
    bool used;
  };

  // unique_ptr keeps each file (and the tensors entries point to) in place.
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  absl::flat_hash_map<std::string, Entry> entries_;
};

// The row-major shape a Hugging Face tensor has before `transform` gives it
// the GGUF dims `dims` (contiguous first).
std::vector<uint64_t> SourceShape(const std::vector<uint64_t>& dims, Transform transform) {
  if (dims.size() == 1) return dims;
  if (transform == Transform::kTranspose) return {dims[0], dims[1]};
  return {dims[1], dims[0]};
}

std::string ModelName(const std::string& folder) {
  std::filesystem::path path(folder);
  if (!path.has_filename()) path = path.parent_path();
  return path.filename().string();
}

absl::flat_hash_map<std::string, Source> Gpt2Sources(const Gpt2Config& config,
                                                     const std::string& prefix) {
  absl::flat_hash_map<std::string, Source> sources;
  sources["token_embd.weight"] = {prefix + "wte.weight"};
  sources["position_embd.weight"] = {prefix + "wpe.weight"};
  for (int l = 0; l < config.n_layers; ++l) {
    const std::string gguf = absl::StrCat("blk.", l, ".");
    const std::string hf = absl::StrCat(prefix, "h.", l, ".");
    sources[gguf + "attn_norm.weight"] = {hf + "ln_1.weight"};
    sources[gguf + "attn_norm.bias"] = {hf + "ln_1.bias"};
    sources[gguf + "attn_qkv.weight"] = {hf + "attn.c_attn.weight", Transform::kTranspose};
    sources[gguf + "attn_qkv.bias"] = {hf + "attn.c_attn.bias"};
    sources[gguf + "attn_output.weight"] = {hf + "attn.c_proj.weight", Transform::kTranspose};
    sources[gguf + "attn_output.bias"] = {hf + "attn.c_proj.bias"};
    sources[gguf + "ffn_norm.weight"] = {hf + "ln_2.weight"};
    sources[gguf + "ffn_norm.bias"] = {hf + "ln_2.bias"};
    sources[gguf + "ffn_up.weight"] = {hf + "mlp.c_fc.weight", Transform::kTranspose};
    sources[gguf + "ffn_up.bias"] = {hf + "mlp.c_fc.bias"};
    sources[gguf + "ffn_down.weight"] = {hf + "mlp.c_proj.weight", Transform::kTranspose};
    sources[gguf + "ffn_down.bias"] = {hf + "mlp.c_proj.bias"};
  }
  sources["output_norm.weight"] = {prefix + "ln_f.weight"};
  sources["output_norm.bias"] = {prefix + "ln_f.bias"};
  sources["output.weight"] = {"lm_head.weight"};
  return sources;
}

absl::flat_hash_map<std::string, Source> LlamaSources(const LlamaConfig& config) {
  absl::flat_hash_map<std::string, Source> sources;
  sources["token_embd.weight"] = {"model.embed_tokens.weight"};
  for (int l = 0; l < config.n_layers; ++l) {
    const std::string gguf = absl::StrCat("blk.", l, ".");
    const std::string hf = absl::StrCat("model.layers.", l, ".");
    sources[gguf + "attn_norm.weight"] = {hf + "input_layernorm.weight"};
    sources[gguf + "attn_q.weight"] = {hf + "self_attn.q_proj.weight", Transform::kPermuteRotary,
                                       config.n_heads};
    sources[gguf + "attn_k.weight"] = {hf + "self_attn.k_proj.weight", Transform::kPermuteRotary,
                                       config.n_kv_heads};
    sources[gguf + "attn_v.weight"] = {hf + "self_attn.v_proj.weight"};
    sources[gguf + "attn_output.weight"] = {hf + "self_attn.o_proj.weight"};
    sources[gguf + "ffn_norm.weight"] = {hf + "post_attention_layernorm.weight"};
    sources[gguf + "ffn_gate.weight"] = {hf + "mlp.gate_proj.weight"};
    sources[gguf + "ffn_up.weight"] = {hf + "mlp.up_proj.weight"};
    sources[gguf + "ffn_down.weight"] = {hf + "mlp.down_proj.weight"};
  }
  sources["output_norm.weight"] = {"model.norm.weight"};
  sources["output.weight"] = {"lm_head.weight"};
  return sources;
}

// Reads, transforms and adds every tensor of `specs`, releasing each
// source tensor once the writer has its encoded copy.
absl::Status AddTensors(const std::string& folder, const std::vector<TensorSpec>& specs,
                        const absl::flat_hash_map<std::string, Source>& sources, int head_dim,
                        GgufTensorType matrix_type, TensorStore& store, GgufWriter& writer) {
  for (const TensorSpec& spec : specs) {
    const Source& source = sources.at(spec.name);
    const std::vector<uint64_t> shape = SourceShape(spec.dims, source.transform);
    ASSIGN_OR_RETURN(std::vector<float> values, store.Read(folder, source.hf_name, shape));
    if (source.transform == Transform::kTranspose) {
      values = Transpose(values, shape[0], shape[1]);
    } else if (source.transform == Transform::kPermuteRotary) {
      values = PermuteRotaryRows(values, source.heads, head_dim, shape[1]);
    }
    RETURN_IF_ERROR(AddModelTensor(writer, spec, matrix_type, values));
  }
  return absl::OkStatus();
}

// Makes the vocabulary as long as the embedding, which may be padded.
absl::Status MatchVocabulary(const std::string& folder, int vocab_size,
                             TokenizerMetadata& tokenizer) {
  if (tokenizer.tokens.size() > static_cast<size_t>(vocab_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        folder, ": the tokenizer has ", tokenizer.tokens.size(),
        " tokens, but config.json's vocab_size is ", vocab_size,
        "; expected at most vocab_size tokens"));
  }
  tokenizer.PadTo(vocab_size);
  return absl::OkStatus();
}

absl::StatusOr<GgufWriter> ImportGpt2(const std::string& folder, Gpt2Config config,
                                      TokenizerMetadata tokenizer, TensorStore& store,
                                      GgufTensorType matrix_type) {
  const std::string prefix = store.Contains("transformer.wte.weight") ? "transformer." : "";
  for (int l = 0; l < config.n_layers; ++l) {
    // Causal-mask buffers that older transformers versions saved.
    store.Skip(absl::StrCat(prefix, "h.", l, ".attn.bias"));
    store.Skip(absl::StrCat(prefix, "h.", l, ".attn.masked_bias"));
  }
  const bool has_lm_head = store.Contains("lm_head.weight");
  config.shared_classifier = config.shared_classifier || !has_lm_head;
  if (config.shared_classifier) store.Skip("lm_head.weight");
  RETURN_IF_ERROR(MatchVocabulary(folder, config.vocab_size, tokenizer));

  GgufWriter writer;
  SetGpt2Hyperparameters(writer, config, ModelName(folder));
  SetFileType(writer, matrix_type);
  SetTokenizerKeys(writer, tokenizer);
  RETURN_IF_ERROR(AddTensors(folder, Gpt2TensorSpecs(config), Gpt2Sources(config, prefix),
                             config.head_dim(), matrix_type, store, writer));
  RETURN_IF_ERROR(store.CheckAllUsed());
  return writer;
}

absl::StatusOr<GgufWriter> ImportLlama(const std::string& folder, LlamaConfig config,
                                       TokenizerMetadata tokenizer, TensorStore& store,
                                       GgufTensorType matrix_type) {
  for (int l = 0; l < config.n_layers; ++l) {
    // Precomputed rotary frequencies that older transformers versions saved.
    store.Skip(absl::StrCat("model.layers.", l, ".self_attn.rotary_emb.inv_freq"));
  }
  const bool has_lm_head = store.Contains("lm_head.weight");
  config.shared_classifier = config.shared_classifier || !has_lm_head;
  if (config.shared_classifier) store.Skip("lm_head.weight");
  RETURN_IF_ERROR(MatchVocabulary(folder, config.vocab_size, tokenizer));

  GgufWriter writer;
  SetLlamaHyperparameters(writer, config, ModelName(folder));
  SetFileType(writer, matrix_type);
  SetTokenizerKeys(writer, tokenizer);
  RETURN_IF_ERROR(AddTensors(folder, LlamaTensorSpecs(config), LlamaSources(config),
                             config.head_dim(), matrix_type, store, writer));
  RETURN_IF_ERROR(store.CheckAllUsed());
  return writer;
}

}  // namespace

std::vector<float> Transpose(absl::Span<const float> matrix, int64_t rows, int64_t cols) {
  std::vector<float> result(matrix.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) result[c * rows + r] = matrix[r * cols + c];
  }
  return result;
}

// Why the rows move. Rotary embedding rotates pairs of components of each
// head's query and key by a position-dependent angle: pair i (i < d / 2,
// d = head_dim) turns by angle pos * base^(-2i / d). Hugging Face's Llama
// ("rotate half") pairs component i with component i + d / 2. The engine,
// like llama.cpp's "llama" architecture, pairs components 2i and 2i + 1
// with the same angle. transformers' convert_llama_weights_to_hf.py moves
// Meta's row (h, 2i + c) to (h, c * d / 2 + i), and this undoes it, as the
// permute() of llama.cpp's convert_hf_to_gguf.py does. A component of q or
// k is one row of q_proj or k_proj.
// Moving row (h, i) to (h, 2i) and row (h, d / 2 + i) to (h, 2i + 1) makes
// the adjacent-pair rotation turn exactly the pairs that HF turns, by the
// same angles. Attention only uses dot products q . k, which do not change
// when q and k have their components reordered the same way, so the scores,
// and the model's output, stay the same. v_proj and o_proj are untouched.
std::vector<float> PermuteRotaryRows(absl::Span<const float> weight, int n_heads, int head_dim,
                                     int64_t cols) {
  std::vector<float> result(weight.size());
  const int half = head_dim / 2;
  const size_t row_bytes = cols * sizeof(float);
  for (int h = 0; h < n_heads; ++h) {
    const int64_t head_row = static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      std::memcpy(&result[(head_row + 2 * i) * cols], &weight[(head_row + i) * cols], row_bytes);
      std::memcpy(&result[(head_row + 2 * i + 1) * cols], &weight[(head_row + half + i) * cols],
                  row_bytes);
    }
  }
  return result;
}

absl::StatusOr<GgufWriter> ImportHfFolder(const std::string& folder, GgufTensorType matrix_type) {
  if (!std::filesystem::is_directory(folder)) {
    return absl::NotFoundError(
        absl::StrCat(folder, ": not a folder, expected a Hugging Face model folder"));
  }
  ASSIGN_OR_RETURN(HfModelConfig config, ReadHfConfig(folder + "/config.json"));
  ASSIGN_OR_RETURN(TokenizerMetadata tokenizer, ReadHfTokenizer(folder, config));
  ASSIGN_OR_RETURN(TensorStore store, TensorStore::Open(folder));
  if (config.model_type == HfModelType::kGpt2) {
    return ImportGpt2(folder, config.gpt2, std::move(tokenizer), store, matrix_type);
  }
  return ImportLlama(folder, config.llama, std::move(tokenizer), store, matrix_type);
}

}  // namespace textgen
