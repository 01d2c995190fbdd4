#include "tools/convert/random_model.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "engine/model/gpt2_weights.h"
#include "engine/model/llama_config.h"
#include "engine/util/status_macros.h"
#include "tools/convert/gguf_tensor_layout.h"

namespace textgen {
namespace {

constexpr float kWeightStddev = 0.02f;
// Values per random stream. Even, so Box-Muller pairs never straddle chunks.
constexpr int64_t kChunkSize = 1 << 16;

constexpr char kSpaceMarker[] = "\xE2\x96\x81";  // U+2581, SentencePiece's space

struct Gpt2Shape {
  const char* name;
  Gpt2Config config;  // vocab_size comes from the vocabulary file
};

struct LlamaShape {
  const char* name;
  LlamaConfig config;
};

Gpt2Config MakeGpt2(int dim, int n_layers, int n_heads, int context_length, bool shared) {
  Gpt2Config config;
  config.dim = dim;
  config.hidden_dim = 4 * dim;
  config.n_layers = n_layers;
  config.n_heads = n_heads;
  config.context_length = context_length;
  config.layer_norm_epsilon = 1e-5f;
  config.shared_classifier = shared;
  return config;
}

LlamaConfig MakeLlama(int dim, int hidden_dim, int n_layers, int n_heads, int n_kv_heads,
                      int vocab_size, int context_length, bool shared) {
  LlamaConfig config;
  config.dim = dim;
  config.hidden_dim = hidden_dim;
  config.n_layers = n_layers;
  config.n_heads = n_heads;
  config.n_kv_heads = n_kv_heads;
  config.vocab_size = vocab_size;
  config.context_length = context_length;
  config.rms_norm_epsilon = 1e-5f;
  config.rope_freq_base = 10000.0f;
  config.shared_classifier = shared;
  return config;
}

// The GPT-2 shapes have a separate output matrix (163M parameters for
// gpt2-124m), the size of the files benchmarked with llama.cpp. gpt2-tiny is
// for tests; the 50,257-token vocabulary makes up most of its size.
const Gpt2Shape kGpt2Shapes[] = {
    {"gpt2-124m", MakeGpt2(768, 12, 12, 1024, /*shared=*/false)},
    {"gpt2-355m", MakeGpt2(1024, 24, 16, 1024, /*shared=*/false)},
    {"gpt2-tiny", MakeGpt2(16, 2, 2, 64, /*shared=*/true)},
};

// llama-110m is stories110M with an untied output (134M parameters),
// llama-15m is stories15M (tied), and llama-tiny is for tests, with grouped
// key/value heads and an untied output.
const LlamaShape kLlamaShapes[] = {
    {"llama-110m", MakeLlama(768, 2048, 12, 12, 12, 32000, 1024, /*shared=*/false)},
    {"llama-15m", MakeLlama(288, 768, 6, 6, 6, 32000, 256, /*shared=*/true)},
    {"llama-tiny", MakeLlama(64, 172, 2, 4, 2, 512, 128, /*shared=*/false)},
};

uint64_t SplitMix64(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fills values[0, count) with normal samples of mean 0 and `stddev` by
// Marsaglia's polar method, from a SplitMix64 stream started at `state`. The
// polar method needs one log and no sine or cosine per pair of samples.
void FillNormal(uint64_t state, float stddev, float* values, int64_t count) {
  constexpr double kUnit = 1.0 / 9007199254740992.0;  // 2^-53
  for (int64_t i = 0; i < count; i += 2) {
    // A point drawn uniformly from the square [-1, 1)^2 until it falls inside
    // the unit circle (and off its center).
    double u, v, radius_squared;
    do {
      u = 2.0 * static_cast<double>(SplitMix64(state) >> 11) * kUnit - 1.0;
      v = 2.0 * static_cast<double>(SplitMix64(state) >> 11) * kUnit - 1.0;
      radius_squared = u * u + v * v;
    } while (radius_squared >= 1.0 || radius_squared == 0.0);
    const double scale = std::sqrt(-2.0 * std::log(radius_squared) / radius_squared) * stddev;
    values[i] = static_cast<float>(u * scale);
    if (i + 1 < count) values[i + 1] = static_cast<float>(v * scale);
  }
}

std::vector<float> RandomTensor(const TensorSpec& spec, uint64_t seed, uint64_t tensor_index) {
  const int64_t count = static_cast<int64_t>(spec.ElementCount());
  if (spec.role == TensorRole::kNormWeight) return std::vector<float>(count, 1.0f);
  if (spec.role == TensorRole::kBias) return std::vector<float>(count, 0.0f);

  std::vector<float> values(count);
  const int64_t chunks = (count + kChunkSize - 1) / kChunkSize;
#pragma omp parallel for schedule(static)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    // Mix seed, tensor and chunk into the stream's start, so streams differ.
    uint64_t state = seed;
    state = SplitMix64(state) ^ tensor_index;
    state = SplitMix64(state) ^ static_cast<uint64_t>(chunk);
    state = SplitMix64(state);
    const int64_t begin = chunk * kChunkSize;
    FillNormal(state, kWeightStddev, values.data() + begin, std::min(kChunkSize, count - begin));
  }
  return values;
}

absl::Status AddRandomTensors(const std::vector<TensorSpec>& specs, const RandomModelOptions& options,
                              GgufWriter& writer) {
  for (size_t i = 0; i < specs.size(); ++i) {
    std::vector<float> values = RandomTensor(specs[i], options.seed, i);
    RETURN_IF_ERROR(AddModelTensor(writer, specs[i], options.matrix_type, values));
  }
  return absl::OkStatus();
}

absl::StatusOr<GgufWriter> BuildGpt2(const Gpt2Shape& shape, const RandomModelOptions& options) {
  if (options.vocab_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--random ", shape.name, " needs the GPT-2 vocabulary: pass --vocab with a GGUF file "
        "that has one, such as llama.cpp's models/ggml-vocab-gpt-2.gguf"));
  }
  ASSIGN_OR_RETURN(GgufFile vocab, GgufFile::Open(options.vocab_path));
  ASSIGN_OR_RETURN(std::string model, vocab.GetString("tokenizer.ggml.model"));
  if (model != "gpt2") {
    return absl::InvalidArgumentError(absl::StrCat(
        options.vocab_path, ": tokenizer.ggml.model is \"", model, "\", expected \"gpt2\" for ",
        shape.name));
  }
  Gpt2Config config = shape.config;
  ASSIGN_OR_RETURN(config.vocab_size, CountTokens(vocab));
  RETURN_IF_ERROR(config.Validate(options.vocab_path));

  GgufWriter writer;
  SetGpt2Hyperparameters(writer, config, absl::StrCat("random ", shape.name));
  SetFileType(writer, options.matrix_type);
  RETURN_IF_ERROR(CopyTokenizerKeys(vocab, writer));
  RETURN_IF_ERROR(AddRandomTensors(Gpt2TensorSpecs(config), options, writer));
  return writer;
}

absl::StatusOr<GgufWriter> BuildLlama(const LlamaShape& shape, const RandomModelOptions& options) {
  if (!options.vocab_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--vocab applies to GPT-2 shapes only; ", shape.name, " gets a synthetic SentencePiece "
        "vocabulary of ", shape.config.vocab_size, " tokens, so leave --vocab out"));
  }
  GgufWriter writer;
  SetLlamaHyperparameters(writer, shape.config, absl::StrCat("random ", shape.name));
  SetFileType(writer, options.matrix_type);
  SetTokenizerKeys(writer, SyntheticSentencePieceVocabulary(shape.config.vocab_size));
  RETURN_IF_ERROR(AddRandomTensors(LlamaTensorSpecs(shape.config), options, writer));
  return writer;
}

}  // namespace

std::vector<std::string> RandomModelShapes() {
  std::vector<std::string> names;
  for (const Gpt2Shape& shape : kGpt2Shapes) names.push_back(shape.name);
  for (const LlamaShape& shape : kLlamaShapes) names.push_back(shape.name);
  return names;
}

absl::StatusOr<GgufWriter> BuildRandomModel(const RandomModelOptions& options) {
  for (const Gpt2Shape& shape : kGpt2Shapes) {
    if (options.shape == shape.name) return BuildGpt2(shape, options);
  }
  for (const LlamaShape& shape : kLlamaShapes) {
    if (options.shape == shape.name) return BuildLlama(shape, options);
  }
  return absl::InvalidArgumentError(absl::StrCat("--random shape \"", options.shape,
                                                 "\" is not known, expected one of ",
                                                 absl::StrJoin(RandomModelShapes(), ", ")));
}

TokenizerMetadata SyntheticSentencePieceVocabulary(int size) {
  TokenizerMetadata tokenizer;
  tokenizer.model = "llama";
  tokenizer.bos_id = 1;
  tokenizer.eos_id = 2;
  tokenizer.unknown_id = 0;
  tokenizer.add_bos = true;

  auto add = [&](std::string piece, TokenType type) {
    if (tokenizer.tokens.size() >= static_cast<size_t>(size)) return;
    // Later pieces merge later, as in a SentencePiece BPE model.
    tokenizer.scores.push_back(type == TokenType::kNormal
                                   ? -static_cast<float>(tokenizer.tokens.size())
                                   : 0.0f);
    tokenizer.tokens.push_back(std::move(piece));
    tokenizer.token_types.push_back(type);
  };
  add("<unk>", TokenType::kUnknown);
  add("<s>", TokenType::kControl);
  add("</s>", TokenType::kControl);
  for (int byte = 0; byte < 256; ++byte) add(absl::StrFormat("<0x%02X>", byte), TokenType::kByte);
  for (char c = ' '; c <= '~'; ++c) {
    add(c == ' ' ? std::string(kSpaceMarker) : std::string(1, c), TokenType::kNormal);
  }

  // Strings over U+2581 and a..z of length 2, 3, ... in lexicographic order:
  // the digits of `index` in base 27 pick the symbols.
  std::vector<std::string> symbols = {kSpaceMarker};
  for (char c = 'a'; c <= 'z'; ++c) symbols.emplace_back(1, c);
  const uint64_t base = symbols.size();
  for (int length = 2; tokenizer.tokens.size() < static_cast<size_t>(size); ++length) {
    uint64_t combinations = 1;
    for (int i = 0; i < length; ++i) combinations *= base;
    for (uint64_t index = 0;
         index < combinations && tokenizer.tokens.size() < static_cast<size_t>(size); ++index) {
      std::string piece;
      uint64_t rest = index;
      for (int i = 0; i < length; ++i) {
        piece.insert(0, symbols[rest % base]);
        rest /= base;
      }
      add(std::move(piece), TokenType::kNormal);
    }
  }
  return tokenizer;
}

}  // namespace textgen
