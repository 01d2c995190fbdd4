#!/usr/bin/env bash
# Train textgen's embedded default model from scratch and write its GGUF file and the
# golden outputs that the C++ tests compare against.
#
# Usage: tools/train/run.sh [--smoke]
#
# Stages: make the story corpus, train the BPE tokenizer, train the model, export GGUF,
# compute golden outputs. Intermediate files go to build/train/ (or $TEXTGEN_TRAIN_DIR).
# The outputs are models/textgen-tiny-stories.gguf and tests/data/embedded-golden.json.
# --smoke runs every stage on a tiny corpus for a few steps and writes all outputs,
# including the GGUF and golden files, under build/train/smoke/ only.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
script_dir="$repo_root/tools/train"
python=/usr/bin/python3

mode=full
case "${1:-}" in
  "") ;;
  --smoke) mode=smoke ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac

work_dir="${TEXTGEN_TRAIN_DIR:-$repo_root/build/train}"
if [ "$mode" = smoke ]; then
  work_dir="$work_dir/smoke"
  stories=300
  steps=(--steps 10 --batch-size 4 --warmup-steps 2 --log-interval 5 --eval-interval 10)
  model_path="$work_dir/textgen-tiny-stories.gguf"
  golden_path="$work_dir/embedded-golden.json"
else
  stories=20000
  steps=(--steps 1200 --batch-size 16 --warmup-steps 100)
  model_path="$repo_root/models/textgen-tiny-stories.gguf"
  golden_path="$repo_root/tests/data/embedded-golden.json"
fi
mkdir -p "$work_dir" "$(dirname "$model_path")" "$(dirname "$golden_path")"

"$repo_root/scripts/install-deps.sh" train

# Run one stage and print how long it took.
run_stage() {
  local name="$1"
  shift
  local started="$EPOCHREALTIME"
  echo "run.sh: stage $name started"
  "$@"
  echo "run.sh: stage $name took $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

total_started="$EPOCHREALTIME"
run_stage corpus "$python" "$script_dir/make_corpus.py" \
  --output "$work_dir/corpus.txt" --stories "$stories" --seed 1234
run_stage tokenizer "$python" "$script_dir/train_tokenizer.py" \
  --corpus "$work_dir/corpus.txt" --output "$work_dir/tokenizer.json" --vocab-size 1024
run_stage model "$python" "$script_dir/train_model.py" \
  --corpus "$work_dir/corpus.txt" --tokenizer "$work_dir/tokenizer.json" \
  --output "$work_dir/model.pt" "${steps[@]}" --seed 1234 --threads 2
run_stage export "$python" "$script_dir/export_gguf.py" \
  --checkpoint "$work_dir/model.pt" --tokenizer "$work_dir/tokenizer.json" --output "$model_path"
if [ "$mode" = smoke ]; then
  # A barely trained model has near ties, so the smoke run only checks that golden.py runs.
  run_stage golden "$python" "$script_dir/golden.py" --allow-near-ties \
    --checkpoint "$work_dir/model.pt" --tokenizer "$work_dir/tokenizer.json" --output "$golden_path"
else
  run_stage golden "$python" "$script_dir/golden.py" \
    --checkpoint "$work_dir/model.pt" --tokenizer "$work_dir/tokenizer.json" --output "$golden_path"
fi
echo "run.sh: all stages took $(awk -v a="$total_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
