#include "client/bench_workload.h"

namespace textgen::bench {
namespace {

// The SplitMix64 generator. Unlike the distributions of <random>, whose
// output differs between standard libraries, it is fully specified here.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Returns the start state of request `index`'s generator.
uint64_t RequestState(uint64_t seed, int64_t index) {
  SplitMix64 seed_mixer(seed);
  SplitMix64 index_mixer(static_cast<uint64_t>(index));
  return seed_mixer.Next() ^ index_mixer.Next();
}

}  // namespace

v1::GenerateRequest Workload::Request(int64_t index) const {
  SplitMix64 random(RequestState(options_.seed, index));
  v1::GenerateRequest request;

  v1::SamplingParams* sampling = request.mutable_sampling();
  *sampling = options_.sampling;
  sampling->set_temperature(options_.temperature);
  sampling->set_seed(random.Next());

  v1::StoppingCriteria* stopping = request.mutable_stopping();
  *stopping = options_.stopping;
  stopping->set_max_new_tokens(options_.max_new_tokens);
  stopping->set_ignore_eos(true);

  // The modulo bias is below vocab_size / 2^64, far too small to matter.
  const uint64_t id_count =
      static_cast<uint64_t>(options_.vocab_size - kFirstPromptTokenId);
  for (int i = 0; i < options_.prompt_tokens; ++i) {
    request.add_prompt_token_ids(
        kFirstPromptTokenId + static_cast<int32_t>(random.Next() % id_count));
  }
  return request;
}

}  // namespace textgen::bench
