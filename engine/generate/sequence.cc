#include "engine/generate/sequence.h"

#include <algorithm>
#include <utility>

namespace textgen {

Sequence::Sequence(GenerationRequest request, const Tokenizer& tokenizer,
                   const std::vector<int32_t>& end_of_sequence_ids, int64_t context_length)
    : request_(std::move(request)),
      end_of_sequence_ids_(end_of_sequence_ids),
      context_length_(context_length),
      tokens_(request_.prompt),
      sampler_(request_.sampling, request_.seed),
      detokenizer_(tokenizer, request_.prompt.back()) {}

absl::Span<const int32_t> Sequence::PendingTokens(int64_t max_tokens) const {
  const int64_t count = std::min(max_tokens, total_tokens() - cached_);
  return absl::MakeConstSpan(tokens_).subspan(cached_, count);
}

bool Sequence::IsEndOfSequence(int32_t token) const {
  return std::find(end_of_sequence_ids_.begin(), end_of_sequence_ids_.end(), token) !=
         end_of_sequence_ids_.end();
}

Sequence::SampleResult Sequence::Sample(absl::Span<const float> logits) {
  SampleResult result;
  const int32_t token = sampler_.Sample(logits);
  if (!request_.ignore_eos && IsEndOfSequence(token)) {
    result.finish = FinishReason::kEndOfSequence;
    return result;
  }

  ++generated_;
  tokens_.push_back(token);
  result.output = GenerationOutput{token, detokenizer_.Add(token)};

  // LENGTH covers both the request's limit and a full context: the new token
  // would go at position cached_, which must be inside the context.
  if (generated_ >= request_.max_new_tokens || cached_ >= context_length_) {
    result.finish = FinishReason::kLength;
  }
  return result;
}

GenerationResult Sequence::Result(FinishReason reason) const {
  GenerationResult result;
  result.finish_reason = reason;
  result.prompt_tokens = static_cast<int32_t>(request_.prompt.size());
  result.generated_tokens = generated_;
  result.seed = request_.seed;
  return result;
}

}  // namespace textgen
