#include "tools/convert/hf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"
#include "tools/convert/json_file.h"

namespace textgen {
namespace {

using Json = nlohmann::json;

// Token ids above this are rejected as garbage; real vocabularies have at
// most a few hundred thousand tokens.
constexpr int64_t kMaxTokenId = 1 << 24;

constexpr char kSpaceMarker[] = "\xE2\x96\x81";  // U+2581, SentencePiece's space

constexpr char kSupportedShapes[] =
    "supported are a GPT-2 byte-level BPE (tokenizer.json with a ByteLevel pre-tokenizer, or "
    "vocab.json and merges.txt) for model_type gpt2, and a SentencePiece-style BPE "
    "(tokenizer.json with byte_fallback, U+2581 for spaces and <0x00>..<0xFF> byte pieces) for "
    "model_type llama";

// A BPE vocabulary as Hugging Face's files describe it.
struct HfBpe {
  std::string source;  // the file or files it came from, for messages
  std::vector<std::string> tokens;  // in id order
  std::vector<bool> special;        // [tokens.size()] added tokens marked special
  std::vector<bool> added;          // [tokens.size()] any added token
  // Merges in rank order, each as its left and right token.
  std::vector<std::pair<std::string, std::string>> merges;
  absl::flat_hash_map<std::string, int32_t> ids;
  std::optional<std::string> unknown_token;  // model.unk_token of tokenizer.json
};

std::string Quote(const std::string& text) { return absl::StrCat("\"", text, "\""); }

bool FileExists(const std::string& path) { return std::filesystem::is_regular_file(path); }

// Builds tokens[] from (token, id) pairs, rejecting ids out of range and ids
// given to two different tokens. CheckNoGaps finds ids without a token.
absl::Status SetTokens(const std::string& source,
                       const std::vector<std::pair<std::string, int64_t>>& entries, HfBpe& bpe) {
  int64_t size = 0;
  for (const auto& [token, id] : entries) {
    if (id < 0 || id >= kMaxTokenId) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": token ", Quote(token),
                                                     " has id ", id, ", expected 0 to ",
                                                     kMaxTokenId - 1));
    }
    size = std::max(size, id + 1);
  }
  bpe.tokens.resize(std::max<int64_t>(size, bpe.tokens.size()));
  std::vector<bool> seen(bpe.tokens.size());
  for (size_t id = 0; id < bpe.tokens.size(); ++id) seen[id] = !bpe.tokens[id].empty();
  for (const auto& [token, id] : entries) {
    if (seen[id] && bpe.tokens[id] != token) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": id ", id, " belongs to both ",
                                                     Quote(bpe.tokens[id]), " and ", Quote(token),
                                                     ", expected one token per id"));
    }
    bpe.tokens[id] = token;
    seen[id] = true;
  }
  return absl::OkStatus();
}

absl::Status CheckNoGaps(const HfBpe& bpe) {
  for (size_t id = 0; id < bpe.tokens.size(); ++id) {
    if (bpe.tokens[id].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          bpe.source, ": no token has id ", id, ", expected ids 0 to ", bpe.tokens.size() - 1,
          " without gaps"));
    }
  }
  return absl::OkStatus();
}

// Parses one merge: "left right" or ["left", "right"].
absl::StatusOr<std::pair<std::string, std::string>> ParseMerge(const std::string& source,
                                                               size_t rank, const Json& merge) {
  if (merge.is_string()) {
    std::vector<std::string> parts = absl::StrSplit(merge.get<std::string>(), ' ');
    if (parts.size() == 2 && !parts[0].empty() && !parts[1].empty()) {
      return std::make_pair(parts[0], parts[1]);
    }
  } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
             merge[1].is_string()) {
    std::string left = merge[0].get<std::string>(), right = merge[1].get<std::string>();
    // GGUF stores a merge as one string with a space between the tokens.
    if (!left.empty() && !right.empty() && left.find(' ') == std::string::npos &&
        right.find(' ') == std::string::npos) {
      return std::make_pair(std::move(left), std::move(right));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": merge ", rank, " is ", merge.dump(),
      ", expected \"left right\" or [\"left\", \"right\"] with two non-empty tokens that "
      "contain no space"));
}

void IndexTokens(HfBpe& bpe) {
  bpe.ids.clear();
  for (size_t id = 0; id < bpe.tokens.size(); ++id) {
    bpe.ids.emplace(bpe.tokens[id], static_cast<int32_t>(id));
  }
  bpe.special.resize(bpe.tokens.size());
  bpe.added.resize(bpe.tokens.size());
}

// Marks added tokens given as [{"id", "content", "special"}] (tokenizer.json)
// or {"id": {"content", "special"}} (tokenizer_config.json), and adds those
// whose ids lie beyond the vocabulary.
absl::Status ReadAddedTokens(const std::string& source, const Json& added_tokens, HfBpe& bpe) {
  struct Added {
    std::string content;
    int64_t id;
    bool special;
  };
  std::vector<Added> entries;
  auto parse_entry = [&](const Json& entry, std::optional<int64_t> id) -> absl::Status {
    if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string() ||
        (!id.has_value() && (!entry.contains("id") || !entry["id"].is_number_integer()))) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": added token ", entry.dump(), " has no string content or integer id"));
    }
    const bool special = entry.contains("special") && entry["special"].is_boolean() &&
                         entry["special"].get<bool>();
    entries.push_back({entry["content"].get<std::string>(),
                       id.has_value() ? *id : entry["id"].get<int64_t>(), special});
    return absl::OkStatus();
  };
  if (added_tokens.is_array()) {
    for (const Json& entry : added_tokens) RETURN_IF_ERROR(parse_entry(entry, std::nullopt));
  } else if (added_tokens.is_object()) {
    for (const auto& [key, entry] : added_tokens.items()) {
      int64_t id = 0;
      if (!absl::SimpleAtoi(key, &id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": added_tokens_decoder key ", Quote(key), " is not a token id"));
      }
      RETURN_IF_ERROR(parse_entry(entry, id));
    }
  } else if (!added_tokens.is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": added tokens are ", added_tokens.type_name(),
                     ", expected a list or an object"));
  }

  std::vector<std::pair<std::string, int64_t>> pairs;
  for (const Added& entry : entries) pairs.emplace_back(entry.content, entry.id);
  RETURN_IF_ERROR(SetTokens(source, pairs, bpe));
  IndexTokens(bpe);
  for (const Added& entry : entries) {
    bpe.added[entry.id] = true;
    if (entry.special) bpe.special[entry.id] = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<HfBpe> ReadTokenizerJson(const std::string& path, const Json& json) {
  HfBpe bpe;
  bpe.source = path;
  if (!json.is_object() || !json.contains("model") || !json["model"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": key model is missing or not an object; ", kSupportedShapes));
  }
  const Json& model = json["model"];
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") {
    return absl::InvalidArgumentError(absl::StrCat(path, ": model.type is ", Quote(type),
                                                   ", expected \"BPE\"; ", kSupportedShapes));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": model.vocab is missing or not an object of token ids"));
  }
  std::vector<std::pair<std::string, int64_t>> entries;
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": model.vocab entry ", Quote(token),
                                                     " is ", id.dump(), ", expected a token id"));
    }
    entries.emplace_back(token, id.get<int64_t>());
  }
  RETURN_IF_ERROR(SetTokens(path, entries, bpe));
  IndexTokens(bpe);
  if (json.contains("added_tokens")) {
    RETURN_IF_ERROR(ReadAddedTokens(path, json["added_tokens"], bpe));
  }

  if (!model.contains("merges") || !model["merges"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": model.merges is missing or not a list"));
  }
  for (const Json& merge : model["merges"]) {
    ASSIGN_OR_RETURN(auto pair, ParseMerge(path, bpe.merges.size(), merge));
    bpe.merges.push_back(std::move(pair));
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    bpe.unknown_token = model["unk_token"].get<std::string>();
  }
  return bpe;
}

absl::StatusOr<HfBpe> ReadVocabAndMerges(const std::string& vocab_path,
                                         const std::string& merges_path) {
  HfBpe bpe;
  bpe.source = absl::StrCat(vocab_path, " and ", merges_path);
  ASSIGN_OR_RETURN(Json vocab, ReadJsonFile(vocab_path));
  if (!vocab.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_path, ": holds ", vocab.type_name(),
                     ", expected an object that maps each token to its id"));
  }
  std::vector<std::pair<std::string, int64_t>> entries;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(vocab_path, ": entry ", Quote(token), " is ",
                                                     id.dump(), ", expected a token id"));
    }
    entries.emplace_back(token, id.get<int64_t>());
  }
  RETURN_IF_ERROR(SetTokens(vocab_path, entries, bpe));
  IndexTokens(bpe);

  std::ifstream in(merges_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(merges_path, ": cannot open the file"));
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          merges_path, ":", line_number, ": line is ", Quote(line),
          ", expected two tokens separated by one space"));
    }
    bpe.merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
  }
  return bpe;
}

std::optional<int32_t> IdOf(const HfBpe& bpe, const std::string& token) {
  auto it = bpe.ids.find(token);
  if (it == bpe.ids.end()) return std::nullopt;
  return it->second;
}

// Picks BOS or EOS: config.json's id when it lies inside the vocabulary,
// else the id of `fallback_token`.
absl::StatusOr<int32_t> SpecialId(const HfBpe& bpe, std::optional<int32_t> config_id,
                                  const char* config_key, const std::string& fallback_token) {
  if (config_id.has_value() && static_cast<size_t>(*config_id) < bpe.tokens.size()) {
    return *config_id;
  }
  if (std::optional<int32_t> id = IdOf(bpe, fallback_token); id.has_value()) return *id;
  return absl::InvalidArgumentError(absl::StrCat(
      bpe.source, ": config.json has ",
      config_id.has_value() ? absl::StrCat(config_key, " ", *config_id, " outside the vocabulary")
                            : absl::StrCat("no ", config_key),
      " and the vocabulary has no token ", Quote(fallback_token),
      "; expected one of them to name the token"));
}

// Returns the type of the pre-tokenizer, or the type of each step of a
// Sequence. The list is empty when there is no pre-tokenizer.
std::vector<std::string> PreTokenizerTypes(const Json& json) {
  std::vector<std::string> types;
  if (!json.is_object() || !json.contains("pre_tokenizer")) return types;
  const Json& pre = json["pre_tokenizer"];
  if (!pre.is_object()) return types;
  if (pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array()) {
    for (const Json& step : pre["pretokenizers"]) {
      if (step.is_object()) types.push_back(step.value("type", ""));
    }
  } else {
    types.push_back(pre.value("type", ""));
  }
  return types;
}

// Returns true when the normalizer or pre-tokenizer writes spaces as U+2581:
// a Metaspace pre-tokenizer, or a Replace normalizer whose content is U+2581.
bool WritesSpaceMarker(const Json& node) {
  if (node.is_object()) {
    const std::string type = node.value("type", "");
    if (type == "Metaspace") return true;
    if (type == "Replace" && node.contains("content") && node["content"] == kSpaceMarker) {
      return true;
    }
    for (const auto& [key, child] : node.items()) {
      if (WritesSpaceMarker(child)) return true;
    }
  } else if (node.is_array()) {
    for (const Json& child : node) {
      if (WritesSpaceMarker(child)) return true;
    }
  }
  return false;
}

absl::Status CheckGpt2Shape(const std::string& path, const Json& json) {
  const std::vector<std::string> types = PreTokenizerTypes(json);
  // GPT-2's encoder adds no space before the text, and neither does the
  // engine.
  if (types.size() == 1 && types[0] == "ByteLevel" &&
      json["pre_tokenizer"].value("use_regex", true) &&
      !json["pre_tokenizer"].value("add_prefix_space", false)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": pre_tokenizer is ",
      json.contains("pre_tokenizer") ? json["pre_tokenizer"].dump() : "missing",
      ", expected a single ByteLevel pre-tokenizer with use_regex true (GPT-2's split pattern, the "
      "only one the engine implements) and add_prefix_space false; ",
      kSupportedShapes));
}

absl::Status CheckSentencePieceShape(const std::string& path, const Json& json) {
  const Json& model = json["model"];
  if (!model.contains("byte_fallback") || model["byte_fallback"] != true) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": model.byte_fallback is ",
        model.contains("byte_fallback") ? model["byte_fallback"].dump() : "missing",
        ", expected true for a Llama tokenizer; ", kSupportedShapes));
  }
  for (const std::string& type : PreTokenizerTypes(json)) {
    if (type == "ByteLevel") {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": the pre-tokenizer is byte-level (as in Llama 3), expected SentencePiece-style "
                "spaces; ", kSupportedShapes));
    }
  }
  if (!WritesSpaceMarker(json.value("normalizer", Json())) &&
      !WritesSpaceMarker(json.value("pre_tokenizer", Json()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": neither the normalizer nor the pre-tokenizer writes spaces as U+2581 (a "
              "Metaspace pre-tokenizer or a Replace normalizer); ", kSupportedShapes));
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenizerMetadata> Gpt2Tokenizer(const HfBpe& bpe, const HfModelConfig& config) {
  TokenizerMetadata tokenizer;
  tokenizer.model = "gpt2";
  tokenizer.pre = "gpt-2";
  tokenizer.tokens = bpe.tokens;
  for (const auto& [left, right] : bpe.merges) {
    tokenizer.merges.push_back(absl::StrCat(left, " ", right));
  }

  // GPT-2's vocab.json has no flags, but its one special token is known.
  std::vector<bool> special = bpe.special;
  if (std::optional<int32_t> id = IdOf(bpe, "<|endoftext|>"); id.has_value()) special[*id] = true;
  ASSIGN_OR_RETURN(tokenizer.bos_id,
                   SpecialId(bpe, config.bos_token_id, "bos_token_id", "<|endoftext|>"));
  ASSIGN_OR_RETURN(tokenizer.eos_id,
                   SpecialId(bpe, config.eos_token_id, "eos_token_id", "<|endoftext|>"));
  special[tokenizer.bos_id] = true;
  special[tokenizer.eos_id] = true;

  for (size_t id = 0; id < bpe.tokens.size(); ++id) {
    TokenType type = TokenType::kNormal;
    if (special[id]) {
      type = TokenType::kControl;
    } else if (bpe.added[id]) {
      type = TokenType::kUserDefined;
    }
    tokenizer.token_types.push_back(type);
  }
  return tokenizer;
}

// Scores for a SentencePiece-style tokenizer built from BPE merge ranks.
//
// Hugging Face's BPE repeatedly merges the adjacent pair whose merge has the
// lowest rank. The engine's SentencePiece tokenizer repeatedly merges the
// adjacent pair whose merged piece has the highest score. Giving each piece the score -rank of the first
// merge that produces it makes both pick the same pair: rank 0 gets the
// highest score, 0. Pieces that no merge produces (special tokens, byte
// pieces, single characters) get -(merge count), below every merged piece.
// NOTE: the two can still differ when adjacent symbols concatenate to a
// piece whose merge splits it elsewhere, because HF then does not merge
// them and the engine does.
absl::StatusOr<std::vector<float>> ScoresFromMergeRanks(const HfBpe& bpe) {
  const float unmerged_score = -static_cast<float>(bpe.merges.size());
  std::vector<float> scores(bpe.tokens.size(), unmerged_score);
  std::vector<bool> has_merge(bpe.tokens.size());
  for (size_t rank = 0; rank < bpe.merges.size(); ++rank) {
    const auto& [left, right] = bpe.merges[rank];
    const std::string merged = left + right;
    std::optional<int32_t> id = IdOf(bpe, merged);
    if (!id.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          bpe.source, ": merge ", rank, " (", Quote(left), " ", Quote(right), ") makes ",
          Quote(merged), ", which is not in the vocabulary"));
    }
    if (!has_merge[*id]) {
      scores[*id] = -static_cast<float>(rank);
      has_merge[*id] = true;
    }
  }
  return scores;
}

absl::StatusOr<TokenizerMetadata> SentencePieceTokenizer(const HfBpe& bpe,
                                                         const HfModelConfig& config) {
  TokenizerMetadata tokenizer;
  tokenizer.model = "llama";
  tokenizer.tokens = bpe.tokens;
  ASSIGN_OR_RETURN(tokenizer.scores, ScoresFromMergeRanks(bpe));

  for (int byte = 0; byte < 256; ++byte) {
    const std::string piece = absl::StrFormat("<0x%02X>", byte);
    if (!IdOf(bpe, piece).has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          bpe.source, ": the vocabulary has no byte piece ", piece,
          ", expected all 256 pieces <0x00>..<0xFF> for byte fallback; ", kSupportedShapes));
    }
  }

  ASSIGN_OR_RETURN(tokenizer.bos_id, SpecialId(bpe, config.bos_token_id, "bos_token_id", "<s>"));
  ASSIGN_OR_RETURN(tokenizer.eos_id, SpecialId(bpe, config.eos_token_id, "eos_token_id", "</s>"));
  tokenizer.unknown_id = IdOf(bpe, bpe.unknown_token.value_or("<unk>"));

  for (size_t id = 0; id < bpe.tokens.size(); ++id) {
    TokenType type = TokenType::kNormal;
    if (tokenizer.unknown_id.has_value() && static_cast<size_t>(*tokenizer.unknown_id) == id) {
      type = TokenType::kUnknown;
    } else if (bpe.special[id] || static_cast<int32_t>(id) == tokenizer.bos_id ||
               static_cast<int32_t>(id) == tokenizer.eos_id) {
      type = TokenType::kControl;
    } else if (bpe.added[id]) {
      type = TokenType::kUserDefined;
    } else if (IsBytePiece(bpe.tokens[id])) {
      type = TokenType::kByte;
    }
    tokenizer.token_types.push_back(type);
  }
  return tokenizer;
}

}  // namespace

absl::StatusOr<TokenizerMetadata> ReadHfTokenizer(const std::string& folder,
                                                  const HfModelConfig& config) {
  const std::string tokenizer_json = folder + "/tokenizer.json";
  const std::string vocab_json = folder + "/vocab.json";
  const std::string merges_txt = folder + "/merges.txt";
  const bool is_llama = config.model_type == HfModelType::kLlama;

  HfBpe bpe;
  if (FileExists(tokenizer_json)) {
    ASSIGN_OR_RETURN(Json json, ReadJsonFile(tokenizer_json));
    ASSIGN_OR_RETURN(bpe, ReadTokenizerJson(tokenizer_json, json));
    if (is_llama) {
      RETURN_IF_ERROR(CheckSentencePieceShape(tokenizer_json, json));
    } else {
      RETURN_IF_ERROR(CheckGpt2Shape(tokenizer_json, json));
    }
  } else if (!is_llama && FileExists(vocab_json) && FileExists(merges_txt)) {
    ASSIGN_OR_RETURN(bpe, ReadVocabAndMerges(vocab_json, merges_txt));
  } else {
    return absl::NotFoundError(absl::StrCat(
        folder, ": no tokenizer found, expected ",
        is_llama ? "tokenizer.json" : "tokenizer.json, or vocab.json with merges.txt", "; ",
        kSupportedShapes));
  }

  std::optional<bool> add_bos;
  const std::string tokenizer_config = folder + "/tokenizer_config.json";
  if (FileExists(tokenizer_config)) {
    ASSIGN_OR_RETURN(Json json, ReadJsonFile(tokenizer_config));
    if (json.is_object() && json.contains("added_tokens_decoder")) {
      RETURN_IF_ERROR(ReadAddedTokens(tokenizer_config, json["added_tokens_decoder"], bpe));
    }
    if (json.is_object() && json.contains("add_bos_token") && json["add_bos_token"].is_boolean()) {
      add_bos = json["add_bos_token"].get<bool>();
    }
  }
  RETURN_IF_ERROR(CheckNoGaps(bpe));

  TokenizerMetadata tokenizer;
  if (is_llama) {
    ASSIGN_OR_RETURN(tokenizer, SentencePieceTokenizer(bpe, config));
    tokenizer.add_bos = add_bos.value_or(true);
  } else {
    ASSIGN_OR_RETURN(tokenizer, Gpt2Tokenizer(bpe, config));
    tokenizer.add_bos = add_bos;
  }
  RETURN_IF_ERROR(tokenizer.Validate(bpe.source));
  return tokenizer;
}

}  // namespace textgen
