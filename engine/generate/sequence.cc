#include "engine/generate/sequence.h"

#include <algorithm>
#include <utility>

namespace textgen {

Sequence::Sequence(GenerationRequest request, const Tokenizer& tokenizer,
                   const std::vector<int32_t>& end_of_sequence_ids, int64_t context_length)
    : request_(std::move(request)),
      tokenizer_(tokenizer),
      end_of_sequence_ids_(end_of_sequence_ids),
      context_length_(context_length),
      tokens_(request_.prompt),
      sampler_(request_.sampling, request_.seed),
      detokenizer_(tokenizer, request_.prompt.back()),
      stop_matcher_(request_.stop, request_.include_stop_in_output) {}

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
  std::optional<TokenLogprob> logprob;
  if (request_.sampling.logprobs) logprob.emplace();
  const int32_t token = sampler_.Sample(logits, tokens_, logprob ? &*logprob : nullptr);
  result.finish = CheckStopToken(token);
  if (result.finish) return result;

  ++generated_;
  if (logprob) AddPieces(&*logprob);
  tokens_.push_back(token);
  result.output = GenerationOutput{token, ReleaseText(token), std::move(logprob)};
  if (stop_matcher_.matched()) {
    result.finish = FinishReason::kStopSequence;
    return result;
  }

  // LENGTH covers both the request's limit and a full context: the new token
  // would go at position cached_, which must be inside the context.
  if (generated_ >= request_.max_new_tokens || cached_ >= context_length_) {
    result.finish = FinishReason::kLength;
  }
  return result;
}

std::optional<FinishReason> Sequence::CheckStopToken(int32_t token) {
  if (!StopsApply()) return std::nullopt;
  if (!request_.ignore_eos && IsEndOfSequence(token)) return FinishReason::kEndOfSequence;
  const std::vector<int32_t>& stop_ids = request_.stop_token_ids;
  if (std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end()) {
    matched_stop_token_id_ = token;
    return FinishReason::kStopSequence;
  }
  return std::nullopt;
}

std::string Sequence::ReleaseText(int32_t token) {
  // `token` is already counted in generated_.
  return stop_matcher_.Add(detokenizer_.Add(token), StopsApply());
}

std::string Sequence::FlushText() {
  std::string text = stop_matcher_.Add(detokenizer_.Flush(), StopsApply());
  return text + stop_matcher_.Flush();
}

// Each alternative's piece is the bytes it would add after the sequence's
// last token, before the chosen token is appended.
void Sequence::AddPieces(TokenLogprob* logprob) const {
  for (TopLogprob& alternative : logprob->top) {
    alternative.piece = tokenizer_.TokenBytes(tokens_.back(), alternative.token_id);
  }
}

GenerationResult Sequence::Result(FinishReason reason) const {
  GenerationResult result;
  result.finish_reason = stop_matcher_.matched() ? FinishReason::kStopSequence : reason;
  result.prompt_tokens = static_cast<int32_t>(request_.prompt.size());
  result.generated_tokens = generated_;
  result.seed = request_.seed;
  result.matched_stop = stop_matcher_.matched_stop();
  result.matched_stop_token_id = matched_stop_token_id_;
  return result;
}

}  // namespace textgen
