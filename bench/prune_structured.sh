#!/usr/bin/env bash
# Structured pruning of the trained vgg-small and resnet-small (bench/train_accuracy.sh) on full
# Fashion-MNIST: L1-norm filter pruning of every channel group, fine-tuning of the smaller model,
# then size, MACs, ONNX Runtime accuracy and latency at batch 1 and 256 against the dense model, in
# one run. Targets (issue 4): >= 50 % of MACs removed, <= 1 point lost, >= 1.6x lower latency at 256.
# Usage: [SPARSITY=0.5] [EPOCHS=8] [METHOD=l1-filter] [BENCH_BATCH=1,256|none] bench/prune_structured.sh [TRAINED_DIR] [OUT_DIR] [MODEL...]
# With BENCH_BATCH=none the latency is left to a quiet run of: shrink bench OUT/MODEL.onnx --vs TRAINED/MODEL.onnx --threads 2
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/prune-structured}
shift 2 || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(vgg-small resnet-small)
mkdir -p "$out"
source bench/common.sh
for m in "${models[@]}"; do
  require_trained "$trained" "$m"
  echo "== $m: ${METHOD:-l1-filter}, ${SPARSITY:-0.5} of every group's channels, ${EPOCHS:-8} fine-tuning epochs"
  shrink prune "$trained/$m.onnx" --method "${METHOD:-l1-filter}" --sparsity "${SPARSITY:-0.5}" --finetune-epochs "${EPOCHS:-8}" --lr 0.01 \
    --data "${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}" --bench-batch "${BENCH_BATCH:-1,256}" --threads 2 --out "$out/$m.onnx"
done
