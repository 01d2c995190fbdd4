#ifndef TEXTGEN_ENGINE_GENERATE_GENERATOR_H_
#define TEXTGEN_ENGINE_GENERATE_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/generate/sequence.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

// Callbacks of one generation. on_output returns false when the consumer is
// gone: generation then ends as CANCELLED. is_cancelled is polled before
// every forward pass.
struct GenerationCallbacks {
  std::function<bool(const GenerationOutput&)> on_output;
  std::function<bool()> is_cancelled;
};

// Runs the autoregressive loop for one request on the calling thread: prefill
// the prompt in chunks, then sample a token, output it and feed it back until
// a stop condition. The server batches requests with the Scheduler instead;
// this loop is the plain reference for tests and tools.
class Generator {
 public:
  // `model` and `tokenizer` must outlive the Generator.
  Generator(Model& model, const Tokenizer& tokenizer, std::vector<int32_t> end_of_sequence_ids);

  GenerationResult Generate(const GenerationRequest& request,
                            const GenerationCallbacks& callbacks);

  // The number of prompt tokens one forward pass takes at most.
  static constexpr int64_t kPrefillChunk = 64;

 private:
  Model& model_;
  const Tokenizer& tokenizer_;
  std::vector<int32_t> end_of_sequence_ids_;
  std::vector<float> logits_;  // [vocab_size]
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_GENERATOR_H_
