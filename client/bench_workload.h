// The requests textgen-bench sends: random prompt token ids and sampling
// seeds that depend only on --seed and the request's index, so that every
// concurrency level and every run sends the same sequence of requests.

#ifndef TEXTGEN_CLIENT_BENCH_WORKLOAD_H_
#define TEXTGEN_CLIENT_BENCH_WORKLOAD_H_

#include <cstdint>

#include "textgen/v1/textgen.pb.h"

namespace textgen::bench {

// Token ids below this are left out of prompts, because common vocabularies
// reserve 0, 1 and 2 for unknown, BOS and EOS.
inline constexpr int32_t kFirstPromptTokenId = 3;

struct WorkloadOptions {
  int32_t vocab_size = 0;
  int prompt_tokens = 0;
  uint32_t max_new_tokens = 0;
  float temperature = 0;
  uint64_t seed = 0;
  // The other stopping fields of every request: stop, stop_token_ids,
  // min_new_tokens and include_stop_in_output. Request sets max_new_tokens
  // and ignore_eos over them.
  v1::StoppingCriteria stopping;
  // The other sampling fields of every request: min_p, the penalties,
  // logit_bias and logprobs. Request sets temperature and seed over them.
  v1::SamplingParams sampling;
};

class Workload {
 public:
  // `options.vocab_size` must be above kFirstPromptTokenId.
  explicit Workload(const WorkloadOptions& options) : options_(options) {}

  // Returns request number `index`: prompt_token_ids of options.prompt_tokens
  // ids drawn uniformly from [kFirstPromptTokenId, vocab_size), a sampling
  // seed, and ignore_eos so that every request generates max_new_tokens
  // unless a stop string or stop token id of options.stopping matches.
  v1::GenerateRequest Request(int64_t index) const;

 private:
  WorkloadOptions options_;
};

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_WORKLOAD_H_
