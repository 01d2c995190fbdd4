#ifndef TEXTGEN_ENGINE_GENERATE_GENERATOR_H_
#define TEXTGEN_ENGINE_GENERATE_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/generate/sampler.h"
#include "engine/model/model.h"
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
};

// What one step adds to the output. `token_id` is -1 for the final piece of
// text that Flush releases at the end.
struct GenerationOutput {
  int32_t token_id = -1;
  std::string text;  // valid UTF-8, possibly empty
};

struct GenerationResult {
  FinishReason finish_reason = FinishReason::kLength;
  int32_t prompt_tokens = 0;
  int32_t generated_tokens = 0;
  uint64_t seed = 0;
};

// Callbacks of one generation. on_output returns false when the consumer is
// gone (the client cancelled): generation then ends as CANCELLED.
// is_cancelled is polled before every forward pass.
struct GenerationCallbacks {
  std::function<bool(const GenerationOutput&)> on_output;
  std::function<bool()> is_cancelled;
};

// Runs the autoregressive loop for one request at a time: prefill the prompt,
// then sample a token, send it, and feed it back until a stop condition.
class Generator {
 public:
  // `model` and `tokenizer` must outlive the Generator. A sampled token in
  // `end_of_sequence_ids` ends generation unless the request ignores EOS;
  // it is not sent or counted.
  Generator(Model& model, const Tokenizer& tokenizer, std::vector<int32_t> end_of_sequence_ids);

  GenerationResult Generate(const GenerationRequest& request,
                            const GenerationCallbacks& callbacks);

  // The number of prompt tokens one forward pass takes at most.
  static constexpr int64_t kPrefillChunk = 64;

 private:
  // Runs the prompt through the model in chunks, leaving the logits of its
  // last token in logits_. Returns false when cancelled in between.
  bool Prefill(absl::Span<const int32_t> prompt, KvCache& cache,
               const GenerationCallbacks& callbacks);
  bool IsEndOfSequence(int32_t token) const;

  Model& model_;
  const Tokenizer& tokenizer_;
  std::vector<int32_t> end_of_sequence_ids_;
  std::vector<float> logits_;  // [vocab_size]
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_GENERATOR_H_
