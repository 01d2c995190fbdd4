// Google Benchmark of one engine step: a decode step over a batch of
// sequences, and a prompt chunk, on models of real shapes with random
// weights (the speed of a forward pass does not depend on the values).
//
//   build/release/benchmarks/engine_step_benchmark --benchmark_filter=Gpt2
//
// Shapes: GPT-2 124M with a separate output matrix (163M parameters) and the
// stories110M Llama shape (134M parameters).

#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "engine/model/gpt2_model.h"
#include "engine/model/llama_model.h"

namespace textgen {
namespace {

std::vector<float> RandomValues(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> values(n);
  for (float& v : values) v = normal(rng);
  return values;
}

Gpt2Weights Gpt2Of124MShape() {
  std::mt19937 rng(1);
  Gpt2Weights w;
  Gpt2Config& c = w.config;
  c.dim = 768, c.hidden_dim = 3072, c.n_layers = 12, c.n_heads = 12, c.vocab_size = 50257;
  c.context_length = 1024, c.shared_classifier = false;
  const size_t d = c.dim, h = c.hidden_dim;
  w.token_embedding = RandomValues(c.vocab_size * d, rng);
  w.position_embedding = RandomValues(c.context_length * d, rng);
  w.classifier = RandomValues(c.vocab_size * d, rng);
  w.final_norm_weight.assign(d, 1.0f);
  w.final_norm_bias.assign(d, 0.0f);
  for (int l = 0; l < c.n_layers; ++l) {
    Gpt2LayerWeights layer;
    layer.attention_norm_weight.assign(d, 1.0f);
    layer.attention_norm_bias.assign(d, 0.0f);
    layer.qkv_weight = RandomValues(3 * d * d, rng);
    layer.qkv_bias.assign(3 * d, 0.0f);
    layer.output_weight = RandomValues(d * d, rng);
    layer.output_bias.assign(d, 0.0f);
    layer.ffn_norm_weight.assign(d, 1.0f);
    layer.ffn_norm_bias.assign(d, 0.0f);
    layer.up_weight = RandomValues(h * d, rng);
    layer.up_bias.assign(h, 0.0f);
    layer.down_weight = RandomValues(d * h, rng);
    layer.down_bias.assign(d, 0.0f);
    w.layers.push_back(std::move(layer));
  }
  return w;
}

LlamaWeights LlamaOf110MShape() {
  std::mt19937 rng(2);
  LlamaWeights w;
  LlamaConfig& c = w.config;
  c.dim = 768, c.hidden_dim = 2048, c.n_layers = 12, c.n_heads = 12, c.n_kv_heads = 12;
  c.vocab_size = 32000, c.context_length = 1024, c.shared_classifier = false;
  const size_t d = c.dim, h = c.hidden_dim;
  w.token_embedding = RandomValues(c.vocab_size * d, rng);
  w.classifier = RandomValues(c.vocab_size * d, rng);
  w.final_norm.assign(d, 1.0f);
  for (int l = 0; l < c.n_layers; ++l) {
    LlamaLayerWeights layer;
    layer.attention_norm.assign(d, 1.0f);
    layer.ffn_norm.assign(d, 1.0f);
    layer.wq = RandomValues(d * d, rng);
    layer.wk = RandomValues(d * d, rng);
    layer.wv = RandomValues(d * d, rng);
    layer.wo = RandomValues(d * d, rng);
    layer.w_gate = RandomValues(h * d, rng);
    layer.w_up = RandomValues(h * d, rng);
    layer.w_down = RandomValues(d * h, rng);
    w.layers.push_back(std::move(layer));
  }
  return w;
}

// Models are built once per (architecture, weight type) and kept.
Model& CachedModel(bool gpt2, WeightType type) {
  static std::unique_ptr<Model> models[2][2];
  std::unique_ptr<Model>& slot = models[gpt2][type == WeightType::kBF16];
  if (slot == nullptr) {
    if (gpt2) {
      slot = std::make_unique<Gpt2Model>(Gpt2Of124MShape(), type, "gpt2-124m");
    } else {
      slot = std::make_unique<LlamaModel>(LlamaOf110MShape(), type, "llama-110m");
    }
  }
  return *slot;
}

// One decode step of `batch` sequences, each with `context` cached positions.
void DecodeStep(benchmark::State& state, bool gpt2, WeightType type) {
  Model& model = CachedModel(gpt2, type);
  const int64_t batch = state.range(0);
  const int64_t context = 128;
  const int64_t vocab = model.description().vocab_size;

  std::vector<std::unique_ptr<KvCache>> caches;
  std::vector<int32_t> tokens(batch, 42);
  std::vector<float> logits(batch * vocab);
  std::vector<int32_t> prompt(context, 7);
  for (int64_t s = 0; s < batch; ++s) {
    caches.push_back(model.NewKvCache(context + 1));
    model.Forward({SequenceStep{prompt, 0, caches.back().get(), logits.data()}});
  }

  std::vector<SequenceStep> steps;
  for (int64_t s = 0; s < batch; ++s) {
    steps.push_back(SequenceStep{absl::MakeConstSpan(&tokens[s], 1), context, caches[s].get(),
                                 logits.data() + s * vocab});
  }
  for (auto _ : state) model.Forward(steps);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

// One prompt chunk of `rows` tokens of a fresh sequence.
void PrefillChunk(benchmark::State& state, bool gpt2, WeightType type) {
  Model& model = CachedModel(gpt2, type);
  const int64_t rows = state.range(0);
  std::vector<int32_t> prompt(rows, 7);
  std::vector<float> logits(model.description().vocab_size);
  std::unique_ptr<KvCache> cache = model.NewKvCache(rows);
  for (auto _ : state) model.Forward({SequenceStep{prompt, 0, cache.get(), logits.data()}});
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}

void Gpt2DecodeBf16(benchmark::State& s) { DecodeStep(s, true, WeightType::kBF16); }
void Gpt2DecodeF32(benchmark::State& s) { DecodeStep(s, true, WeightType::kF32); }
void Gpt2PrefillBf16(benchmark::State& s) { PrefillChunk(s, true, WeightType::kBF16); }
void Gpt2PrefillF32(benchmark::State& s) { PrefillChunk(s, true, WeightType::kF32); }
void LlamaDecodeBf16(benchmark::State& s) { DecodeStep(s, false, WeightType::kBF16); }
void LlamaDecodeF32(benchmark::State& s) { DecodeStep(s, false, WeightType::kF32); }
void LlamaPrefillBf16(benchmark::State& s) { PrefillChunk(s, false, WeightType::kBF16); }

BENCHMARK(Gpt2DecodeBf16)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->UseRealTime();
BENCHMARK(Gpt2DecodeF32)->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(Gpt2PrefillBf16)->Arg(16)->Arg(64)->Arg(128)->Arg(256)->UseRealTime();
BENCHMARK(Gpt2PrefillF32)->Arg(128)->UseRealTime();
BENCHMARK(LlamaDecodeBf16)->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(LlamaDecodeF32)->Arg(1)->UseRealTime();
BENCHMARK(LlamaPrefillBf16)->Arg(128)->UseRealTime();

}  // namespace
}  // namespace textgen

BENCHMARK_MAIN();
