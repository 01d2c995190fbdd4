#include "engine/generate/generator.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace textgen {

Generator::Generator(Model& model, const Tokenizer& tokenizer,
                     std::vector<int32_t> end_of_sequence_ids)
    : model_(model),
      tokenizer_(tokenizer),
      end_of_sequence_ids_(std::move(end_of_sequence_ids)),
      logits_(model.description().vocab_size) {}

GenerationResult Generator::Generate(const GenerationRequest& request,
                                     const GenerationCallbacks& callbacks) {
  const int64_t context = model_.description().context_length;
  Sequence sequence(request, tokenizer_, end_of_sequence_ids_, context);

  // The last sampled token is never fed back, so the cache needs at most
  // prompt + max_new_tokens - 1 positions, and never more than the context.
  const int64_t prompt_tokens = static_cast<int64_t>(request.prompt.size());
  std::unique_ptr<KvCache> cache =
      model_.NewKvCache(std::min(context, prompt_tokens + request.max_new_tokens));

  while (true) {
    if (callbacks.is_cancelled()) return sequence.Result(FinishReason::kCancelled);

    // A prompt chunk, or the one token sampled last.
    absl::Span<const int32_t> tokens = sequence.PendingTokens(kPrefillChunk);
    model_.Forward({SequenceStep{tokens, sequence.cached(), cache.get(), logits_.data()}});
    sequence.MarkCached(static_cast<int64_t>(tokens.size()));
    if (!sequence.ReadyToSample()) continue;

    Sequence::SampleResult sampled = sequence.Sample(logits_);
    if (sampled.output && !callbacks.on_output(*sampled.output)) {
      return sequence.Result(FinishReason::kCancelled);
    }
    if (sampled.finish) {
      std::string rest = sequence.FlushText();
      if (!rest.empty() && !callbacks.on_output(GenerationOutput{-1, std::move(rest), {}})) {
        return sequence.Result(FinishReason::kCancelled);
      }
      return sequence.Result(*sampled.finish);
    }
  }
}

}  // namespace textgen
