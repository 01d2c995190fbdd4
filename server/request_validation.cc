#include "server/request_validation.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace textgen {
namespace {

constexpr size_t kMaxRequestIdBytes = 256;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status ValidateSampling(const v1::SamplingParams& sampling) {
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
  return absl::OkStatus();
}

absl::Status ValidateStopping(const v1::StoppingCriteria& stopping) {
  if (stopping.stop_size() > 0) {
    return absl::UnimplementedError(
        "stopping.stop is not supported by this server version; send no stop strings");
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
  absl::Status status = ValidateSampling(request.sampling());
  if (!status.ok()) return status;
  status = ValidateStopping(request.stopping());
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
  result.sampling.temperature = request.sampling().temperature();
  result.sampling.top_k = request.sampling().top_k();
  result.sampling.top_p = request.sampling().top_p();
  result.seed = request.sampling().has_seed() ? request.sampling().seed() : RandomSeed();
  // Generation ends at the context's end anyway, so larger limits clamp.
  const uint32_t requested = request.stopping().max_new_tokens();
  const int64_t limit = requested == 0 ? context.default_max_new_tokens : requested;
  result.max_new_tokens = static_cast<int32_t>(std::min<int64_t>(limit, context_length));
  result.ignore_eos = request.stopping().ignore_eos();
  return result;
}

}  // namespace textgen
