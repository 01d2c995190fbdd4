#ifndef TEXTGEN_ENGINE_GENERATE_LOGITS_PROCESSOR_H_
#define TEXTGEN_ENGINE_GENERATE_LOGITS_PROCESSOR_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/types/span.h"

namespace textgen {

// The adjustments made to the logits before temperature, in the order
// LogitsProcessor applies them. The defaults change nothing.
struct LogitAdjustments {
  // (token id, bias) pairs added to the logits first. Ids outside the
  // vocabulary are skipped.
  std::vector<std::pair<int32_t, float>> logit_bias;
  // CTRL's multiplicative penalty as llama.cpp applies it: the logit x of
  // a token in the window becomes x / r when x > 0 and x * r otherwise.
  // 0 or 1 means off.
  float repetition_penalty = 1.0f;
  // OpenAI's additive penalties: a token that occurs c times in the window
  // loses presence_penalty * [c > 0] + frequency_penalty * c.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  // The number of most recent tokens the penalties count; 0 means all.
  int32_t penalty_window = 0;
};

// Applies logit_bias, then the repetition penalty, then the presence and
// frequency penalties, to one request's logits at every step. It keeps its
// buffers from step to step, so a step allocates nothing once they have
// grown, and the penalties touch only tokens that occur in the window.
class LogitsProcessor {
 public:
  explicit LogitsProcessor(LogitAdjustments adjustments);

  // True when some adjustment is on, so that Process may change the logits.
  bool enabled() const { return enabled_; }

  // Returns the adjusted logits [vocab_size]: `logits` itself when no
  // adjustment is on, otherwise a buffer that the next call overwrites.
  // `history` is the sequence so far, the prompt followed by the generated
  // tokens; the penalties count its last penalty_window tokens.
  absl::Span<const float> Process(absl::Span<const float> logits,
                                  absl::Span<const int32_t> history);

 private:
  bool penalties_enabled() const;
  void AddBias();
  void ApplyPenalties(absl::Span<const int32_t> history);
  void PenalizeToken(int32_t token, int32_t count);

  LogitAdjustments adjustments_;
  bool enabled_ = false;
  std::vector<float> adjusted_;       // [vocab_size]
  std::vector<int32_t> window_;       // [penalty window] the counted tokens, sorted
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_LOGITS_PROCESSOR_H_
