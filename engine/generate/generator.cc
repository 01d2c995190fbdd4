#include "engine/generate/generator.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "engine/tokenizer/incremental_detokenizer.h"

namespace textgen {

Generator::Generator(Model& model, const Tokenizer& tokenizer,
                     std::vector<int32_t> end_of_sequence_ids)
    : model_(model),
      tokenizer_(tokenizer),
      end_of_sequence_ids_(std::move(end_of_sequence_ids)),
      logits_(model.description().vocab_size) {}

bool Generator::IsEndOfSequence(int32_t token) const {
  return std::find(end_of_sequence_ids_.begin(), end_of_sequence_ids_.end(), token) !=
         end_of_sequence_ids_.end();
}

bool Generator::Prefill(absl::Span<const int32_t> prompt, KvCache& cache,
                        const GenerationCallbacks& callbacks) {
  for (size_t start = 0; start < prompt.size(); start += kPrefillChunk) {
    if (callbacks.is_cancelled()) return false;
    SequenceStep step{prompt.subspan(start, kPrefillChunk), static_cast<int64_t>(start), &cache,
                      logits_.data()};
    model_.Forward({step});
  }
  return true;
}

GenerationResult Generator::Generate(const GenerationRequest& request,
                                     const GenerationCallbacks& callbacks) {
  const int64_t context = model_.description().context_length;
  const int64_t prompt_tokens = static_cast<int64_t>(request.prompt.size());
  GenerationResult result;
  result.prompt_tokens = static_cast<int32_t>(prompt_tokens);
  result.seed = request.seed;

  // The last sampled token is never fed back, so the cache needs at most
  // prompt + max_new_tokens - 1 positions, and never more than the context.
  const int64_t capacity = std::min(context, prompt_tokens + request.max_new_tokens);
  std::unique_ptr<KvCache> cache = model_.NewKvCache(capacity);
  Sampler sampler(request.sampling, request.seed);
  IncrementalDetokenizer detokenizer(tokenizer_, request.prompt.back());

  if (!Prefill(request.prompt, *cache, callbacks)) {
    result.finish_reason = FinishReason::kCancelled;
    return result;
  }

  int64_t position = prompt_tokens;  // where the next fed token goes
  while (true) {
    const int32_t token = sampler.Sample(logits_);
    if (!request.ignore_eos && IsEndOfSequence(token)) {
      result.finish_reason = FinishReason::kEndOfSequence;
      break;
    }

    ++result.generated_tokens;
    if (!callbacks.on_output(GenerationOutput{token, detokenizer.Add(token)})) {
      result.finish_reason = FinishReason::kCancelled;
      return result;
    }

    // LENGTH covers both the request's limit and a full context.
    if (result.generated_tokens >= request.max_new_tokens || position >= context) {
      result.finish_reason = FinishReason::kLength;
      break;
    }
    if (callbacks.is_cancelled()) {
      result.finish_reason = FinishReason::kCancelled;
      return result;
    }

    const int32_t fed[1] = {token};
    model_.Forward({SequenceStep{fed, position, cache.get(), logits_.data()}});
    ++position;
  }

  std::string rest = detokenizer.Flush();
  if (!rest.empty() && !callbacks.on_output(GenerationOutput{-1, std::move(rest)})) {
    result.finish_reason = FinishReason::kCancelled;
  }
  return result;
}

}  // namespace textgen
