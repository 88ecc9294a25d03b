#!/usr/bin/env bash
# Low-rank factorization on full Fashion-MNIST (issue 7): truncated SVD of every layer to about RATIO of its parameters
# (default 0.5; the classifier is left alone), then FT_EPOCHS (default 2) of fine-tuning at lr 0.01; size, accuracy and ONNX Runtime latency at batch
# 1 and 256 before and after, on the trained models.
# Usage: [RATIO=0.5] [FT_EPOCHS=2] bench/factorize.sh [TRAINED_DIR] [OUT_DIR] [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/factorize}
shift 2 || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(lenet300 lenet5)
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
source bench/common.sh
for m in "${models[@]}"; do
  require_trained "$trained" "$m"
  echo "== $m: shrink factorize --ratio ${RATIO:-0.5} --finetune-epochs ${FT_EPOCHS:-2}"
  shrink factorize "$trained/$m.onnx" --ratio "${RATIO:-0.5}" --finetune-epochs "${FT_EPOCHS:-2}" --lr 0.01 --data "$data" --threads 2 \
    --out "$out/$m.lowrank.onnx"
done
