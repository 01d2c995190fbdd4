#ifndef TEXTGEN_ENGINE_GENERATE_SEQUENCE_H_
#define TEXTGEN_ENGINE_GENERATE_SEQUENCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "engine/generate/sampler.h"
#include "engine/generate/stop_matcher.h"
#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

enum class FinishReason { kEndOfSequence, kLength, kStopSequence, kCancelled };

// One request for the autoregressive loop, already validated.
struct GenerationRequest {
  std::vector<int32_t> prompt;  // [prompt_tokens], 1..context_length ids below vocab_size
  SamplingParams sampling;
  uint64_t seed = 0;
  int32_t max_new_tokens = 0;  // > 0
  bool ignore_eos = false;
  std::vector<std::string> stop;          // stop strings; empty ones never match
  std::vector<int32_t> stop_token_ids;    // sampled, they end the sequence like EOS
  int32_t min_new_tokens = 0;             // EOS and stops are ignored until then
  bool include_stop_in_output = false;    // the text ends with the matched stop string
};

// The output one step adds. `token_id` is -1 for the final piece of
// text that the detokenizer releases at the end.
struct GenerationOutput {
  int32_t token_id = -1;
  std::string text;  // valid UTF-8, possibly empty
  // The token's log-probability, when the request sets logprobs.
  std::optional<TokenLogprob> logprob;
};

struct GenerationResult {
  FinishReason finish_reason = FinishReason::kLength;
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  uint64_t seed = 0;
  std::string matched_stop;                     // the stop string that ended it, or ""
  std::optional<int32_t> matched_stop_token_id;  // the stop token id that ended it
};

// The state of one sequence in the autoregressive loop: its tokens, how many
// of them the KV cache holds, its own sampler and detokenizer, and its stop
// conditions. The loop that owns it feeds PendingTokens() through the model,
// calls MarkCached, and hands the logits of the last token to Sample.
class Sequence {
 public:
  // `tokenizer` must outlive the Sequence. A sampled token in
  // `end_of_sequence_ids` ends the sequence unless the request ignores EOS,
  // and one in the request's stop_token_ids ends it too. That token is not
  // output or counted. Before min_new_tokens tokens are generated, both are
  // ignored and the token is output like any other.
  Sequence(GenerationRequest request, const Tokenizer& tokenizer,
           const std::vector<int32_t>& end_of_sequence_ids, int64_t context_length);

  // Up to `max_tokens` tokens whose keys and values are not cached yet,
  // starting at position cached().
  absl::Span<const int32_t> PendingTokens(int64_t max_tokens) const;
  void MarkCached(int64_t count) { cached_ += count; }
  // Forgets the cache, so the next steps recompute it from the tokens (after
  // the sequence's blocks were taken away).
  void ResetCache() { cached_ = 0; }
  int64_t cached() const { return cached_; }
  int64_t total_tokens() const { return static_cast<int64_t>(tokens_.size()); }
  // True when every token is cached and the next step samples.
  bool ReadyToSample() const { return cached_ == total_tokens(); }

  // The outcome of Sample: an output unless the sampled token ended the
  // sequence, and the finish reason once the sequence is done.
  struct SampleResult {
    std::optional<GenerationOutput> output;
    std::optional<FinishReason> finish;
  };

  // Samples the next token from `logits` [vocab_size], the model's output for
  // the last token, appends it and checks the stop conditions.
  SampleResult Sample(absl::Span<const float> logits);

  // Returns the text still held at the end of the sequence: the stop
  // matcher's held-back text, then an incomplete character at the end as
  // U+FFFD. Returns "" after a stop string matched. A stop string that
  // matches in this text still ends the text there and makes Result report
  // kStopSequence.
  std::string FlushText();

  GenerationResult Result(FinishReason reason) const;
  const GenerationRequest& request() const { return request_; }

 private:
  bool IsEndOfSequence(int32_t token) const;
  // True once min_new_tokens tokens are generated, from when EOS and the
  // stops count.
  bool StopsApply() const { return generated_ >= request_.min_new_tokens; }
  // Returns the finish reason when `token` ends the sequence before it is
  // appended: EOS or a stop token id, unless min_new_tokens is not reached.
  std::optional<FinishReason> CheckStopToken(int32_t token);
  // Returns the text that `token` releases, after the stop string check.
  std::string ReleaseText(int32_t token);
  void AddPieces(TokenLogprob* logprob) const;

  GenerationRequest request_;
  const Tokenizer& tokenizer_;
  const std::vector<int32_t>& end_of_sequence_ids_;
  int64_t context_length_;
  std::vector<int32_t> tokens_;  // prompt, then every generated token
  int64_t cached_ = 0;
  int32_t generated_ = 0;
  Sampler sampler_;
  IncrementalDetokenizer detokenizer_;
  StopMatcher stop_matcher_;
  std::optional<int32_t> matched_stop_token_id_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_SEQUENCE_H_
