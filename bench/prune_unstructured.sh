#!/usr/bin/env bash
# Unstructured pruning of the trained lenet300 and lenet5 (from bench/train_accuracy.sh) to 90 % weight
# sparsity on full Fashion-MNIST: one-shot magnitude (no fine-tuning), and AGP (gradual magnitude
# pruning while fine-tuning). Accuracy is ONNX Runtime's on the 10,000 test images.
# Target (issue 4): at most 0.5 points below the dense model at >= 90 % sparsity.
# Usage: bench/prune_unstructured.sh [TRAINED_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/prune-unstructured}
mkdir -p "$out"
source bench/common.sh
for m in lenet300 lenet5; do
  require_trained "$trained" "$m"
  echo "== $m: one-shot global magnitude 0.9, no fine-tuning"
  shrink prune "$trained/$m.onnx" --sparsity 0.9 --scope global --data "${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}" \
    --out "$out/$m-oneshot.onnx" --bench-batch 1,256
  echo "== $m: AGP global magnitude 0.9 over ${EPOCHS:-10} fine-tuning epochs"
  shrink prune "$trained/$m.onnx" --sparsity 0.9 --scope global --schedule agp --finetune-epochs "${EPOCHS:-10}" --lr 0.01 \
    --data "${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}" --out "$out/$m-agp.onnx" --bench-batch 1,256
done
