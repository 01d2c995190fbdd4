#include "server/request_validation.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"
#include "server/tokenization.h"

namespace textgen {
namespace {

constexpr size_t kMaxRequestIdBytes = 256;
// The same cap as Tokenize's: room for prompts of tens of thousands of tokens.
constexpr size_t kMaxPromptBytes = kMaxTokenizeTextBytes;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

// Limits of the sampling fields. The penalty bounds keep adjusted logits
// finite and far from float overflow, and [-2, 2] is OpenAI's range.
constexpr float kMinRepetitionPenalty = 0.1f;
constexpr float kMaxRepetitionPenalty = 10.0f;
constexpr float kMaxAdditivePenalty = 2.0f;
constexpr int kMaxLogitBiasEntries = 1024;
constexpr float kMaxLogitBias = 100.0f;

bool InRange(float value, float low, float high) { return value >= low && value <= high; }

absl::Status ValidatePenalties(const v1::SamplingParams& sampling, int64_t context_length) {
  const float repetition = sampling.repetition_penalty();
  if (repetition != 0.0f && !InRange(repetition, kMinRepetitionPenalty, kMaxRepetitionPenalty)) {
    return Invalid(absl::StrCat("sampling.repetition_penalty is ", repetition,
                                ", expected 0 (off) or a value in [", kMinRepetitionPenalty, ", ",
                                kMaxRepetitionPenalty, "] (1 means off)"));
  }
  if (!InRange(sampling.presence_penalty(), -kMaxAdditivePenalty, kMaxAdditivePenalty)) {
    return Invalid(absl::StrCat("sampling.presence_penalty is ", sampling.presence_penalty(),
                                ", expected a value in [", -kMaxAdditivePenalty, ", ",
                                kMaxAdditivePenalty, "] (0 means off)"));
  }
  if (!InRange(sampling.frequency_penalty(), -kMaxAdditivePenalty, kMaxAdditivePenalty)) {
    return Invalid(absl::StrCat("sampling.frequency_penalty is ", sampling.frequency_penalty(),
                                ", expected a value in [", -kMaxAdditivePenalty, ", ",
                                kMaxAdditivePenalty, "] (0 means off)"));
  }
  if (sampling.penalty_window() > context_length) {
    return Invalid(absl::StrCat("sampling.penalty_window is ", sampling.penalty_window(),
                                ", expected at most ", context_length,
                                " (the model's context length; 0 means the whole sequence)"));
  }
  return absl::OkStatus();
}

// Returns the entries of sampling.logit_bias sorted by token id, so that the
// first bad entry reported does not depend on the map's order.
std::vector<std::pair<int32_t, float>> SortedLogitBias(const v1::SamplingParams& sampling) {
  std::vector<std::pair<int32_t, float>> entries(sampling.logit_bias().begin(),
                                                 sampling.logit_bias().end());
  std::sort(entries.begin(), entries.end());
  return entries;
}

absl::Status ValidateLogitBias(const v1::SamplingParams& sampling, int64_t vocab_size) {
  if (sampling.logit_bias_size() > kMaxLogitBiasEntries) {
    return Invalid(absl::StrCat("sampling.logit_bias has ", sampling.logit_bias_size(),
                                " entries, expected at most ", kMaxLogitBiasEntries));
  }
  for (const auto& [token, bias] : SortedLogitBias(sampling)) {
    if (token < 0 || token >= vocab_size) {
      return Invalid(absl::StrCat("sampling.logit_bias has key ", token,
                                  ", expected a token id in [0, ", vocab_size, ")"));
    }
    if (!InRange(bias, -kMaxLogitBias, kMaxLogitBias)) {
      return Invalid(absl::StrCat("sampling.logit_bias[", token, "] is ", bias,
                                  ", expected a value in [", -kMaxLogitBias, ", ", kMaxLogitBias,
                                  "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLogprobs(const v1::SamplingParams& sampling) {
  if (sampling.top_logprobs() > static_cast<uint32_t>(kMaxTopLogprobs)) {
    return Invalid(absl::StrCat("sampling.top_logprobs is ", sampling.top_logprobs(),
                                ", expected at most ", kMaxTopLogprobs));
  }
  if (sampling.top_logprobs() > 0 && !sampling.logprobs()) {
    return Invalid(absl::StrCat("sampling.top_logprobs is ", sampling.top_logprobs(),
                                " but sampling.logprobs is false; set sampling.logprobs to "
                                "true, or top_logprobs to 0"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSampling(const v1::SamplingParams& sampling,
                              const ValidationContext& context) {
  if (!std::isfinite(sampling.temperature()) || sampling.temperature() < 0.0f) {
    return Invalid(absl::StrCat("sampling.temperature is ", sampling.temperature(),
                                ", expected a finite value >= 0 (0 means greedy)"));
  }
  if (sampling.top_k() < 0) {
    return Invalid(absl::StrCat("sampling.top_k is ", sampling.top_k(),
                                ", expected a value >= 0 (0 means off)"));
  }
  if (!(sampling.top_p() >= 0.0f && sampling.top_p() <= 1.0f)) {
    return Invalid(absl::StrCat("sampling.top_p is ", sampling.top_p(),
                                ", expected a value in [0, 1] (0 or 1 means off)"));
  }
  if (!InRange(sampling.min_p(), 0.0f, 1.0f)) {
    return Invalid(absl::StrCat("sampling.min_p is ", sampling.min_p(),
                                ", expected a value in [0, 1] (0 means off)"));
  }
  RETURN_IF_ERROR(ValidatePenalties(sampling, context.model->context_length));
  RETURN_IF_ERROR(ValidateLogitBias(sampling, context.model->vocab_size));
  return ValidateLogprobs(sampling);
}

// Returns the engine's sampling parameters of a validated request.
SamplingParams ToEngineSampling(const v1::SamplingParams& sampling) {
  SamplingParams result;
  result.temperature = sampling.temperature();
  result.top_k = sampling.top_k();
  result.top_p = sampling.top_p();
  result.min_p = sampling.min_p();
  result.adjustments.logit_bias = SortedLogitBias(sampling);
  result.adjustments.repetition_penalty = sampling.repetition_penalty();
  result.adjustments.presence_penalty = sampling.presence_penalty();
  result.adjustments.frequency_penalty = sampling.frequency_penalty();
  result.adjustments.penalty_window = static_cast<int32_t>(sampling.penalty_window());
  result.logprobs = sampling.logprobs();
  result.top_logprobs = static_cast<int32_t>(sampling.top_logprobs());
  return result;
}

// Limits of the stopping fields. A stop string is compared with the end of
// the text at every token, so count and length bound that work.
constexpr int kMaxStopStrings = 16;
constexpr size_t kMaxStopStringBytes = 256;
constexpr int kMaxStopTokenIds = 16;

// Returns the limit on generated tokens: max_new_tokens, or the server's
// default for 0, clamped to the context length because generation ends there
// anyway.
int32_t EffectiveMaxNewTokens(const v1::StoppingCriteria& stopping,
                              const ValidationContext& context) {
  const uint32_t requested = stopping.max_new_tokens();
  const int64_t limit = requested == 0 ? context.default_max_new_tokens : requested;
  return static_cast<int32_t>(std::min<int64_t>(limit, context.model->context_length));
}

absl::Status ValidateStopStrings(const v1::StoppingCriteria& stopping) {
  if (stopping.stop_size() > kMaxStopStrings) {
    return Invalid(absl::StrCat("stopping.stop has ", stopping.stop_size(),
                                " strings, expected at most ", kMaxStopStrings));
  }
  for (int i = 0; i < stopping.stop_size(); ++i) {
    const size_t size = stopping.stop(i).size();
    if (size == 0 || size > kMaxStopStringBytes) {
      return Invalid(absl::StrCat("stopping.stop[", i, "] is ", size,
                                  " bytes long, expected 1 to ", kMaxStopStringBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStopTokenIds(const v1::StoppingCriteria& stopping, int64_t vocab_size) {
  if (stopping.stop_token_ids_size() > kMaxStopTokenIds) {
    return Invalid(absl::StrCat("stopping.stop_token_ids has ", stopping.stop_token_ids_size(),
                                " ids, expected at most ", kMaxStopTokenIds));
  }
  for (int i = 0; i < stopping.stop_token_ids_size(); ++i) {
    const int32_t id = stopping.stop_token_ids(i);
    if (id < 0 || id >= vocab_size) {
      return Invalid(absl::StrCat("stopping.stop_token_ids[", i, "] is ", id,
                                  ", expected a token id in [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStopping(const v1::StoppingCriteria& stopping,
                              const ValidationContext& context) {
  RETURN_IF_ERROR(ValidateStopStrings(stopping));
  RETURN_IF_ERROR(ValidateStopTokenIds(stopping, context.model->vocab_size));
  const int32_t max_new_tokens = EffectiveMaxNewTokens(stopping, context);
  if (stopping.min_new_tokens() > static_cast<uint32_t>(max_new_tokens)) {
    return Invalid(absl::StrCat(
        "stopping.min_new_tokens is ", stopping.min_new_tokens(), ", expected at most ",
        max_new_tokens, " (max_new_tokens, or the server's default when it is 0, "
        "capped at the model's context length)"));
  }
  return absl::OkStatus();
}

// Returns the prompt's token ids, from the text or as given.
absl::StatusOr<std::vector<int32_t>> PromptTokens(const v1::GenerateRequest& request,
                                                  const ValidationContext& context) {
  const bool has_text = !request.prompt().empty();
  const bool has_ids = request.prompt_token_ids_size() > 0;
  if (has_text == has_ids) {
    return Invalid(absl::StrCat(
        "exactly one of prompt and prompt_token_ids must be set, but ",
        has_text ? "both are" : "neither is",
        " set; to generate from nothing, send prompt_token_ids with the BOS token"));
  }

  // Tokenizing costs time and memory in proportion to the text, so an
  // oversized prompt is rejected before it is tokenized.
  if (has_text && request.prompt().size() > kMaxPromptBytes) {
    return Invalid(absl::StrCat("prompt is ", request.prompt().size(), " bytes, expected at most ",
                                kMaxPromptBytes));
  }
  if (has_text) return context.tokenizer->Encode(request.prompt(), context.add_bos);

  const int64_t vocab_size = context.model->vocab_size;
  std::vector<int32_t> ids(request.prompt_token_ids().begin(), request.prompt_token_ids().end());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      return Invalid(absl::StrCat("prompt_token_ids[", i, "] is ", ids[i],
                                  ", expected a token id in [0, ", vocab_size, ")"));
    }
  }
  return ids;
}

}  // namespace

absl::StatusOr<GenerationRequest> ValidateGenerateRequest(const v1::GenerateRequest& request,
                                                          const ValidationContext& context) {
  if (request.request_id().size() > kMaxRequestIdBytes) {
    return Invalid(absl::StrCat("request_id is ", request.request_id().size(),
                                " bytes long, expected at most ", kMaxRequestIdBytes));
  }
  absl::Status status = ValidateSampling(request.sampling(), context);
  if (!status.ok()) return status;
  status = ValidateStopping(request.stopping(), context);
  if (!status.ok()) return status;

  absl::StatusOr<std::vector<int32_t>> prompt = PromptTokens(request, context);
  if (!prompt.ok()) return prompt.status();
  const int64_t context_length = context.model->context_length;
  if (prompt->empty()) {
    return Invalid("prompt encodes to no tokens; send a non-empty prompt");
  }
  if (static_cast<int64_t>(prompt->size()) > context_length) {
    return Invalid(absl::StrCat(request.prompt().empty() ? "prompt_token_ids" : "prompt",
                                " has ", prompt->size(), " tokens, expected at most ",
                                context_length, " (the model's context length)"));
  }

  GenerationRequest result;
  result.prompt = *std::move(prompt);
  result.sampling = ToEngineSampling(request.sampling());
  result.seed = request.sampling().has_seed() ? request.sampling().seed() : RandomSeed();
  const v1::StoppingCriteria& stopping = request.stopping();
  result.max_new_tokens = EffectiveMaxNewTokens(stopping, context);
  result.ignore_eos = stopping.ignore_eos();
  result.stop.assign(stopping.stop().begin(), stopping.stop().end());
  result.stop_token_ids.assign(stopping.stop_token_ids().begin(), stopping.stop_token_ids().end());
  result.min_new_tokens = static_cast<int32_t>(stopping.min_new_tokens());
  result.include_stop_in_output = stopping.include_stop_in_output();
  return result;
}

}  // namespace textgen
