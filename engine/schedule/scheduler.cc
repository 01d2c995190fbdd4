#include "engine/schedule/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace textgen {
namespace {

int64_t BlocksFor(int64_t positions, int64_t block_size) {
  return (positions + block_size - 1) / block_size;
}

int64_t BlockCount(const Model& model, const SchedulerOptions& options) {
  const int64_t block_bytes = model.kv_layout(options.kv_block_size).block_bytes();
  return std::max<int64_t>(1, options.kv_cache_bytes / block_bytes);
}

}  // namespace

Scheduler::Scheduler(Model& model, const Tokenizer& tokenizer,
                     std::vector<int32_t> end_of_sequence_ids, const SchedulerOptions& options)
    : model_(model),
      tokenizer_(tokenizer),
      end_of_sequence_ids_(std::move(end_of_sequence_ids)),
      options_(options),
      pool_(model.kv_layout(options.kv_block_size), BlockCount(model, options)),
      logits_(static_cast<size_t>(options.max_running) * model.description().vocab_size) {
  thread_ = std::thread(&Scheduler::Loop, this);
}

Scheduler::~Scheduler() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  thread_.join();

  for (Entry& entry : running_) FinishEntry(entry, FinishReason::kCancelled);
  absl::MutexLock lock(&mutex_);
  for (Entry& entry : preempted_) FinishEntry(entry, FinishReason::kCancelled);
  for (Entry& entry : queue_) FinishEntry(entry, FinishReason::kCancelled);
}

absl::StatusOr<std::shared_ptr<RequestStream>> Scheduler::Submit(GenerationRequest request) {
  // The prompt and the first generated token must fit the whole cache.
  const int64_t needed =
      BlocksFor(static_cast<int64_t>(request.prompt.size()) + 1, options_.kv_block_size);
  if (needed > pool_.total_blocks()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the prompt of ", request.prompt.size(), " tokens needs ", needed,
        " KV-cache blocks, but the whole cache has ", pool_.total_blocks(),
        "; the server needs a larger --kv-cache-mib"));
  }

  Entry entry;
  entry.sequence = std::make_unique<Sequence>(std::move(request), tokenizer_, end_of_sequence_ids_,
                                              model_.description().context_length);
  entry.stream = std::make_shared<RequestStream>();
  entry.submitted = absl::Now();
  std::shared_ptr<RequestStream> stream = entry.stream;

  absl::MutexLock lock(&mutex_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int64_t>(queue_.size() + preempted_.size()) >= options_.max_waiting) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server is busy: ", options_.max_running, " requests are running and ",
                     options_.max_waiting, " are waiting (--max-running, --max-waiting); retry later"));
  }
  queue_.push_back(std::move(entry));
  waiting_count_.fetch_add(1);
  return stream;
}

void Scheduler::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stopping_ || cancel_all_ || !queue_.empty() || !running_.empty() ||
               !preempted_.empty();
      };
      mutex_.Await(absl::Condition(&has_work));
      if (stopping_) return;
    }

    DropCancelled();
    Admit();
    UpdateCounts();
    std::vector<int64_t> plan = PlanStep();
    RunStep(plan);
    UpdateCounts();
  }
}

void Scheduler::CancelAll() {
  absl::MutexLock lock(&mutex_);
  cancel_all_ = true;
}

void Scheduler::DropCancelled() {
  bool cancel_all = false;
  {
    absl::MutexLock lock(&mutex_);
    cancel_all = std::exchange(cancel_all_, false);
  }
  auto drop = [this, cancel_all](auto& entries) {
    for (Entry& entry : entries) {
      if (cancel_all || entry.stream->cancelled()) FinishEntry(entry, FinishReason::kCancelled);
    }
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [](const Entry& entry) { return entry.sequence == nullptr; }),
                  entries.end());
  };
  drop(running_);
  absl::MutexLock lock(&mutex_);
  drop(preempted_);
  drop(queue_);
}

void Scheduler::Admit() {
  while (static_cast<int32_t>(running_.size()) < options_.max_running) {
    // Preempted sequences go first, then the queue in arrival order.
    bool from_queue = preempted_.empty();
    Entry* next = nullptr;
    absl::MutexLock lock(&mutex_);
    if (from_queue) {
      if (queue_.empty()) return;
      next = &queue_.front();
    } else {
      next = &preempted_.front();
    }

    // Admit only when its first chunk fits the free blocks.
    const Sequence& sequence = *next->sequence;
    const int64_t first_chunk = std::min(sequence.total_tokens(), options_.prefill_chunk);
    if (BlocksFor(first_chunk, options_.kv_block_size) > pool_.free_blocks()) return;

    next->cache = std::make_unique<KvCache>(&pool_);
    running_.push_back(std::move(*next));
    if (from_queue) {
      if (options_.queue_observer) options_.queue_observer(absl::Now() - running_.back().submitted);
      queue_.pop_front();
    } else {
      preempted_.pop_front();
    }
  }
}

std::vector<int64_t> Scheduler::PlanStep() {
  // A step with prompt chunks only lets a new request start at once instead
  // of sharing a long step with every decoding sequence. Steps alternate, so
  // decoding sequences still advance at least every other step.
  bool any_prefill = false;
  for (const Entry& entry : running_) {
    any_prefill |= entry.sequence->total_tokens() - entry.sequence->cached() > 1;
  }
  const bool prefill_only = any_prefill && !last_step_prefill_only_;
  last_step_prefill_only_ = prefill_only;

  std::vector<int64_t> plan;
  int64_t prefill_budget = options_.prefill_chunk;
  size_t i = 0;
  while (i < running_.size()) {
    const Sequence& sequence = *running_[i].sequence;
    const int64_t pending = sequence.total_tokens() - sequence.cached();
    // Decoding sequences take their one token; prompt chunks share the
    // prefill budget in admission order.
    int64_t tokens = pending <= 1 ? pending : std::min(pending, prefill_budget);
    if (prefill_only && pending <= 1) tokens = 0;
    if (tokens == 0) {
      plan.push_back(0);
      ++i;
      continue;
    }
    if (!Grow(i, tokens)) continue;  // running_[i] was preempted or finished
    if (pending > 1) prefill_budget -= tokens;
    plan.push_back(tokens);
    ++i;
  }
  plan.resize(running_.size());
  return plan;
}

bool Scheduler::Grow(size_t index, int64_t tokens) {
  Entry& entry = running_[index];
  const int64_t positions = entry.sequence->cached() + tokens;
  while (!entry.cache->Reserve(positions)) {
    if (running_.size() - 1 > index) {
      Preempt(running_.size() - 1);  // the most recently admitted other sequence
      continue;
    }
    if (index > 0) {
      Preempt(index);  // it is the newest: it waits for the older ones
      return false;
    }
    // Alone and still too large for the whole cache.
    FinishEntry(entry, FinishReason::kLength);
    running_.erase(running_.begin() + index);
    return false;
  }
  return true;
}

void Scheduler::Preempt(size_t index) {
  Entry& entry = running_[index];
  preemptions_.fetch_add(1);
  entry.cache.reset();  // returns its blocks
  entry.sequence->ResetCache();
  {
    absl::MutexLock lock(&mutex_);
    preempted_.push_front(std::move(entry));
  }
  running_.erase(running_.begin() + index);
}

void Scheduler::RunStep(const std::vector<int64_t>& plan) {
  const int64_t vocab = model_.description().vocab_size;
  std::vector<SequenceStep> steps;
  std::vector<size_t> step_entry;
  for (size_t i = 0; i < running_.size(); ++i) {
    if (plan[i] == 0) continue;
    Sequence& sequence = *running_[i].sequence;
    float* logits = logits_.data() + steps.size() * vocab;
    steps.push_back(SequenceStep{sequence.PendingTokens(plan[i]), sequence.cached(),
                                 running_[i].cache.get(), logits});
    step_entry.push_back(i);
  }
  if (steps.empty()) return;

  const absl::Time start = absl::Now();
  model_.Forward(steps);
  const absl::Time sampled_at = absl::Now();

  for (size_t k = 0; k < steps.size(); ++k) {
    Entry& entry = running_[step_entry[k]];
    Sequence& sequence = *entry.sequence;
    sequence.MarkCached(static_cast<int64_t>(steps[k].tokens.size()));
    if (!sequence.ReadyToSample()) continue;

    Sequence::SampleResult sampled =
        sequence.Sample(absl::MakeConstSpan(steps[k].logits, static_cast<size_t>(vocab)));
    if (sampled.output) {
      entry.stream->Append(*sampled.output);
      ObserveToken(entry, sampled_at);
    }
    if (sampled.finish) FinishEntry(entry, *sampled.finish);
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const Entry& entry) { return entry.sequence == nullptr; }),
                 running_.end());

  if (options_.step_observer) {
    options_.step_observer(StepReport{TotalRows(steps), static_cast<int64_t>(steps.size()),
                                      absl::Now() - start});
  }
}

void Scheduler::ObserveToken(Entry& entry, absl::Time now) {
  if (entry.last_token != absl::InfinitePast() && options_.token_interval_observer) {
    options_.token_interval_observer(now - entry.last_token);
  }
  entry.last_token = now;
}

void Scheduler::FinishEntry(Entry& entry, FinishReason reason) {
  // Blocks go back first, so a client that receives the result finds them free.
  entry.cache.reset();
  std::string rest = entry.sequence->FlushText();
  if (!rest.empty()) entry.stream->Append(GenerationOutput{-1, std::move(rest), {}});
  entry.stream->Finish(entry.sequence->Result(reason));
  entry.sequence.reset();
}

void Scheduler::UpdateCounts() {
  running_count_.store(static_cast<int64_t>(running_.size()));
  absl::MutexLock lock(&mutex_);
  waiting_count_.store(static_cast<int64_t>(queue_.size() + preempted_.size()));
}

}  // namespace textgen
