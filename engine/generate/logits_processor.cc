#include "engine/generate/logits_processor.h"

#include <algorithm>

namespace textgen {

LogitsProcessor::LogitsProcessor(LogitAdjustments adjustments)
    : adjustments_(std::move(adjustments)) {
  enabled_ = !adjustments_.logit_bias.empty() || penalties_enabled();
}

bool LogitsProcessor::penalties_enabled() const {
  const float repetition = adjustments_.repetition_penalty;
  return (repetition != 0.0f && repetition != 1.0f) || adjustments_.presence_penalty != 0.0f ||
         adjustments_.frequency_penalty != 0.0f;
}

absl::Span<const float> LogitsProcessor::Process(absl::Span<const float> logits,
                                                 absl::Span<const int32_t> history) {
  if (!enabled_) return logits;

  adjusted_.assign(logits.begin(), logits.end());
  AddBias();
  if (penalties_enabled()) ApplyPenalties(history);
  return adjusted_;
}

void LogitsProcessor::AddBias() {
  const auto vocab_size = static_cast<int32_t>(adjusted_.size());
  for (const auto& [token, bias] : adjustments_.logit_bias) {
    if (token >= 0 && token < vocab_size) adjusted_[token] += bias;
  }
}

void LogitsProcessor::ApplyPenalties(absl::Span<const int32_t> history) {
  const size_t window = adjustments_.penalty_window;
  if (window > 0 && history.size() > window) history = history.subspan(history.size() - window);

  // Sorting a copy of the window puts equal tokens next to each other, so
  // each run is one distinct token and its length is the token's count.
  window_.assign(history.begin(), history.end());
  std::sort(window_.begin(), window_.end());
  for (size_t begin = 0; begin < window_.size();) {
    size_t end = begin + 1;
    while (end < window_.size() && window_[end] == window_[begin]) ++end;
    PenalizeToken(window_[begin], static_cast<int32_t>(end - begin));
    begin = end;
  }
}

void LogitsProcessor::PenalizeToken(int32_t token, int32_t count) {
  if (token < 0 || token >= static_cast<int32_t>(adjusted_.size())) return;
  float& logit = adjusted_[token];

  const float repetition = adjustments_.repetition_penalty;
  if (repetition != 0.0f && repetition != 1.0f) {
    logit = logit > 0.0f ? logit / repetition : logit * repetition;
  }
  logit -= adjustments_.presence_penalty + adjustments_.frequency_penalty * count;
}

}  // namespace textgen
